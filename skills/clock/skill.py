"""The time and the date."""

from __future__ import annotations

import datetime as dt

from assistant.plugins.api import Skill, ToolResult, tool


def spoken_time(now: dt.datetime) -> str:
    hour = now.hour % 12 or 12
    if now.minute == 0:
        minute = "o'clock"
    elif now.minute < 10:
        minute = f"oh {now.minute}"
    else:
        minute = str(now.minute)
    return f"{hour} {minute} {'AM' if now.hour < 12 else 'PM'}"


def spoken_date(today: dt.date) -> str:
    return f"{today:%A}, {today:%B} {today.day}, {today.year}"


class ClockSkill(Skill):
    name = "clock"
    description = "Tells the current time and date."

    @tool(reads=True)
    def get_time(self) -> ToolResult:
        """Tell the current local time: what time or hour it is, how late it is."""
        now = dt.datetime.now().astimezone()
        return ToolResult(f"It's {spoken_time(now)}.", {"time": now.isoformat(timespec="minutes")})

    @tool(reads=True)
    def get_date(self) -> ToolResult:
        """Tell today's date: which weekday (Monday to Sunday), day, month and year it is."""
        today = dt.date.today()
        return ToolResult(f"Today is {spoken_date(today)}.", {"date": today.isoformat()})
