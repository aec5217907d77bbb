"""The dashboard's charts are drawn by ``icbt.charts``; this name stays for the dashboard's import."""

from icbt.charts import BarChart as Chart
from icbt.charts import Series, bar_chart, fmt, hbar_chart

__all__ = ["Chart", "Series", "bar_chart", "fmt", "hbar_chart"]
