"""Developer tooling for the Glue ETL suite (the `glue-etl` command). Never deployed."""
