"""The BI export: ``GET /export/results.csv|.parquet`` and ``/export/indicator-scores.csv|.parquet``.

``columns`` names what each export holds and in which unit, ``formats`` turns record batches into CSV or
Parquet bytes as they come, and ``endpoint`` is the HTTP side (bearer token, rate limit, errors, the
streamed response). Which rows and fields a principal gets is decided where the API decides it:
``resolvers.export`` reads them with the API's row scope, filters and small-cell rules, and ``hub.app``
hands it to the endpoint, so that this package never imports the resolvers.
"""
