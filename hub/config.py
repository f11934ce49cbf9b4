"""Settings from the environment (prefix ``PERFHUB_``): one immutable Settings object per process."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a deployment can configure; the defaults are the embedded demo."""

    model_config = SettingsConfigDict(env_prefix="PERFHUB_", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./perfhub.db"
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///FILE`` or ``postgresql+asyncpg://USER@HOST/DB``."""
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = True
    """Seed the demo organisation on first start when the database is empty."""
    demo_seed: int = 7
    demo_employees: int = 120
    graphiql: bool = True
    """Serve GraphiQL to browsers that GET /graphql."""
    max_page_size: int = 500
    log_level: str = "info"
