"""failsafe: staged rollback and kill switch for recommender services on AWS."""

__version__ = "0.1.0"
