"""monitor: watches ClinicalTrials.gov and PubMed for secretome / exosome / EV cancer trials."""

__version__ = "0.1.0"
