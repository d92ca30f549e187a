"""MTTA and MTTR over incidents: means and medians of what each incident measured."""

from __future__ import annotations

from statistics import mean, median

from copilot.domain.incidents import Incident, IncidentStats, IncidentStatus


def incident_stats(incidents: list[Incident]) -> IncidentStats:
    mtta = [i.mtta_s for i in incidents if i.mtta_s is not None]
    mttr = [i.mttr_s for i in incidents if i.mttr_s is not None]
    return IncidentStats(
        incidents=len(incidents),
        open=sum(1 for i in incidents if i.status is not IncidentStatus.RESOLVED),
        acknowledged=len(mtta),
        mtta_mean_s=mean(mtta) if mtta else None,
        mtta_median_s=median(mtta) if mtta else None,
        resolved=len(mttr),
        mttr_mean_s=mean(mttr) if mttr else None,
        mttr_median_s=median(mttr) if mttr else None,
    )
