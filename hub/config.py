"""Settings from the environment (prefix ``PERFHUB_``): one immutable Settings object per process."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.appraisal import GradeBands


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
    grade_bands: tuple[float, float, float, float] = (90.0, 80.0, 70.0, 60.0)
    """The lowest total of grades S, A, B and C (below C is D), e.g. PERFHUB_GRADE_BANDS='[95,85,70,60]'."""
    log_level: str = "info"

    def bands(self) -> GradeBands:
        """The organisation's grade bands; invalid bounds fail at start-up, not at scoring time."""
        return GradeBands(*self.grade_bands)
