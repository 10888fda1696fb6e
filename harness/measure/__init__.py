"""Measuring the machine and the runs on it: latency, the roofline, who else
shares the machine, and provenance."""
