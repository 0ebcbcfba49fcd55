"""The officers\x27 requests page, served by the plugin inside Airflow."""
