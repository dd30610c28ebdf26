"""Drills: reference-recommender traffic on the local stack, an injected fault, the controller's real
response, and a time-to-mitigate scorecard measured from the events the stack recorded."""
