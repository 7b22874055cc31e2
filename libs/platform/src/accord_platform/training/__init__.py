"""The training sandbox (SPEC 8): synthetic data from a seed, the scenario library, cohorts
and the debrief."""
