"""PostgreSQL/TimescaleDB sink and the buffer against a real server (asyncio only: asyncpg)."""
