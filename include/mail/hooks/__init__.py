"""Airflow hooks the providers do not ship (Gmail)."""
