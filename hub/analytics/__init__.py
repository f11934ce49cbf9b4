"""Analytics computed in the database (statistics, trends): SQL that aggregates, never rows read into Python."""
