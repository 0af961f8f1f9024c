"""Datasets: sources (SOURCES registry), the IDX reader and the in-memory pipeline."""
