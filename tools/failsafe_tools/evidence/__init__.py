"""Evidence locally: the recommender's events as Parquet (`parquet`) and the seed's queries on DuckDB
(`duckdb_engine`), from the one SQL source in ``infra/queries``."""
