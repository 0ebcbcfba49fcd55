"""One function per DAG task: the DAG files only wire these."""
