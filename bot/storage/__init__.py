"""SQLAlchemy 2.0 models and the repository; listeners never open sessions themselves."""
