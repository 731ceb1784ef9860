"""The sandbox: what a submission (and the shared Spark server it uses) may see and do."""
