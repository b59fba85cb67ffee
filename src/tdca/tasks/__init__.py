"""Tasks: what the bottom-up network must do and how well its inner loop trained."""

from tdca.tasks.base import LayeredTask, Task
from tdca.tasks.classification import ClassificationTask
from tdca.tasks.gaussian import DOMAIN, FUNCTION_1, FUNCTION_2, GaussianTask, MixedGaussian, Well
from tdca.tasks.registry import TASKS, build_task, register_task

__all__ = [
    "DOMAIN",
    "FUNCTION_1",
    "FUNCTION_2",
    "TASKS",
    "ClassificationTask",
    "GaussianTask",
    "LayeredTask",
    "MixedGaussian",
    "Task",
    "Well",
    "build_task",
    "register_task",
]
