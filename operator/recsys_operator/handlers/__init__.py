"""kopf wiring (`kopf run -m recsys_operator.handlers`): importing registers every handler."""

from recsys_operator.handlers import admission, recommender_system, settings, training_run

__all__ = ["admission", "recommender_system", "settings", "training_run"]
