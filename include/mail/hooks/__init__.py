"""Airflow hooks the providers do not ship (Gmail), and the smtp provider's with one TLS context per process."""
