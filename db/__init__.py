"""PostgreSQL: the asyncpg pool, SQL as named constants, numbered migrations and their migrator."""
