"""One date style for English pages, e-mails and PDFs: "30 Nov 2026" (never "Nov. 30, 2026"
or "11/30/2026" beside it). Templates write ``|date`` (or ``|date:"DATETIME_FORMAT"``) and code
``date_format(value)``, so every date follows these lines."""

DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j M"
YEAR_MONTH_FORMAT = "M Y"
TIME_FORMAT = "H:i"
FIRST_DAY_OF_WEEK = 1  # Monday
# What a typed date may look like (see icbt.forms.DayField for "30 Nov 2026"): day first, or ISO.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%d %m %Y"]
