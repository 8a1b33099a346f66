"""The local disk spool that keeps audit rows while the database is down."""
