"""Incidents: alerts in (``alerts``), the lifecycle (``lifecycle``), the timeline built from
the record (``timeline``), and MTTA/MTTR (``stats``)."""
