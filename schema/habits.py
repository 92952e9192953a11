"""Habits: daily, on chosen weekdays or weekly, plain or measurable; ordered, archived,
checked in or skipped; streaks and score in the user's calendar."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Self

import strawberry

from auth.permissions import Permission
from db.habits import HabitFrequency
from resolvers import habits as resolvers
from resolvers import ids
from resolvers.context import Info
from resolvers.habits import HabitState
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.permissions import Allowed, requires

strawberry.enum(HabitFrequency)


@strawberry.type
class CheckIn:
    date: date
    value: Decimal | None = strawberry.field(
        description="The day's entries added up, for a measurable habit."
    )
    skipped: bool


@strawberry.type
class Habit(Node):
    id: strawberry.ID
    name: str
    description: str | None
    color: str | None
    frequency: HabitFrequency
    target_per_week: int
    days_of_week: list[int] | None = strawberry.field(
        description="ISO weekdays (1 = Monday ... 7 = Sunday) a daily habit is due on; "
        "null for every day."
    )
    target: Decimal | None = strawberry.field(
        description="For a measurable habit: the amount a day that makes it done."
    )
    unit: str | None
    archived: bool
    position: int
    current_streak: int = strawberry.field(
        description="Scheduled days in a row (weeks reaching the target, for weekly habits) "
        "up to now; skipped days neither break nor extend it."
    )
    longest_streak: int
    done_today: bool = strawberry.field(
        description="Today in your time zone, the target reached for a measurable habit."
    )
    score: float = strawberry.field(
        description="The habit's strength, 0 to 1, smoothed over its history as Loop Habit "
        "Tracker does: one missed day after a long run lowers it a little."
    )
    state: strawberry.Private[HabitState]

    @strawberry.field(description="Share of what was due in the last `days` days, 0 to 1.")
    def completion_rate(self, days: int = 30) -> float:
        return self.state.completion_rate(max(1, min(days, 3660)))

    @strawberry.field
    def check_ins(
        self, from_: Annotated[date, strawberry.argument(name="from")], to: date
    ) -> list[CheckIn]:
        return [
            CheckIn(date=entry.day, value=entry.value, skipped=entry.skipped)
            for entry in self.state.entries
            if from_ <= entry.day <= to
        ]

    @classmethod
    def of(cls, state: HabitState) -> Self:
        row = state.row
        current, longest = state.streaks
        return cls(
            id=strawberry.ID(ids.encode("habit", row.id)),
            name=row.name,
            description=row.description,
            color=row.color,
            frequency=row.frequency,
            target_per_week=row.target_per_week,
            days_of_week=list(row.days_of_week) if row.days_of_week else None,
            target=row.target,
            unit=row.unit,
            archived=row.archived,
            position=row.position,
            current_streak=current,
            longest_streak=longest,
            done_today=state.done_today,
            score=state.score,
            state=state,
        )


@strawberry.input
class CreateHabitInput:
    name: str
    description: str | None = strawberry.UNSET
    color: str | None = strawberry.UNSET
    frequency: HabitFrequency | None = strawberry.UNSET
    target_per_week: int | None = strawberry.UNSET
    days_of_week: list[int] | None = strawberry.UNSET
    target: Decimal | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="An ID minted offline: habit_<uuid>."
    )


@strawberry.input
class UpdateHabitInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    color: str | None = strawberry.UNSET
    frequency: HabitFrequency | None = strawberry.UNSET
    target_per_week: int | None = strawberry.UNSET
    days_of_week: list[int] | None = strawberry.UNSET
    target: Decimal | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET


@strawberry.type
class HabitPayload(Payload):
    habit: Habit | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: HabitState) -> Self:
        return cls(habit=Habit.of(result))


@strawberry.type
class HabitsPayload(Payload):
    habits: list[Habit] | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: list[HabitState]) -> Self:
        return cls(habits=[Habit.of(state) for state in result])


@fetches_node("habit")
async def _habit_node(info: Info, global_id: str) -> Habit | None:
    state = await resolvers.habit(info.context, global_id)
    return Habit.of(state) if state else None


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(Allowed(Permission.HABITS)), description="In your order.")
    async def habits(self, info: Info, include_archived: bool | None = False) -> list[Habit]:
        return [
            Habit.of(s) for s in await resolvers.habit_list(info.context, bool(include_archived))
        ]

    @strawberry.field(extensions=requires(Allowed(Permission.HABITS)))
    async def habit(self, info: Info, id: strawberry.ID) -> Habit | None:
        return await _habit_node(info, id)


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(Allowed(Permission.HABITS)))
    async def create_habit(self, info: Info, input: CreateHabitInput) -> HabitPayload:
        return await HabitPayload.run(resolvers.create(info.context, input))

    @strawberry.mutation(extensions=requires(Allowed(Permission.HABITS)))
    async def update_habit(
        self, info: Info, id: strawberry.ID, input: UpdateHabitInput
    ) -> HabitPayload:
        return await HabitPayload.run(resolvers.update(info.context, id, input))

    @strawberry.mutation(extensions=requires(Allowed(Permission.HABITS)))
    async def archive_habit(self, info: Info, id: strawberry.ID, archived: bool) -> HabitPayload:
        return await HabitPayload.run(resolvers.archive(info.context, id, archived))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.HABITS)),
        description="All your habits (archived too), each once, in the new order.",
    )
    async def reorder_habits(self, info: Info, ids: list[strawberry.ID]) -> HabitsPayload:
        return await HabitsPayload.run(resolvers.reorder(info.context, ids))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.HABITS)),
        description="`date` defaults to your today. `value`: how much, for a measurable "
        "habit (the day's entries add up; 1 if left out); a plain habit takes none.",
    )
    async def check_in_habit(
        self, info: Info, id: strawberry.ID, date: date | None = None, value: Decimal | None = None
    ) -> HabitPayload:
        return await HabitPayload.run(resolvers.check_in(info.context, id, date, value))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.HABITS)),
        description="A skipped day neither breaks nor extends a streak; undoCheckIn undoes it.",
    )
    async def skip_habit_day(self, info: Info, id: strawberry.ID, date: date) -> HabitPayload:
        return await HabitPayload.run(resolvers.skip_day(info.context, id, date))

    @strawberry.mutation(extensions=requires(Allowed(Permission.HABITS)))
    async def undo_check_in(self, info: Info, id: strawberry.ID, date: date) -> HabitPayload:
        return await HabitPayload.run(resolvers.undo_check_in(info.context, id, date))

    @strawberry.mutation(extensions=requires(Allowed(Permission.HABITS)))
    async def delete_habit(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))
