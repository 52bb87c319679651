"""What the running assistant does for its own command line (control.py carries the requests):
`ask`, `knowledge ask`, `routines run`, and `timers|alarms|reminders cancel`, each done by the live
core, so it takes a second instead of a cold start, and never races the assistant over the folder.

Typed requests are one conversation, as `assistant ask` alone keeps one: "cancel all timers", then
`ask "yes"`, is answered. It is remembered in `conversation.json` too, so the conversation carries
over when the assistant stops and `ask` works alone again. Its calls go in the audit trail as "text".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from assistant.app.control import Handler, Send
from assistant.app.runtime import Core
from assistant.core.bus import Bus
from assistant.core.errors import CommandLineError, KnowledgeError
from assistant.core.events import Event, Transcript
from assistant.scheduling.records import cancel
from assistant.voice.conversation_file import ConversationFile


class ShellRequests:
    def __init__(self, core: Core, announce: Callable[[str], Awaitable[None]]) -> None:
        self.core = core
        self.announce = announce
        # The typed conversation's own bus: its events are the request's to send back, and go on
        # to the assistant's bus (its event log, the phone page) as every other conversation's do.
        self._bus = Bus()
        self._bus.subscribe(core.bus.publish)
        self.dialogue = core.dialogue.another("text", bus=self._bus)
        self.memory = ConversationFile(core.data_dir)
        self.memory.restore(self.dialogue)
        self._typed = asyncio.Lock()

    def handlers(self) -> dict[str, Handler]:
        return {
            "ask": self.ask,
            "knowledge_ask": self.knowledge_ask,
            "routine_run": self.routine_run,
            "cancel": self.cancel,
        }

    async def ask(self, request: dict[str, Any], send: Send) -> dict[str, Any]:
        """One typed request, its events sent back as they happen when asked for ("events": true)."""
        text = _text(request, "text", 'say what to do: `assistant ask "set a timer for 10 minutes"`')
        async with self._typed:  # one conversation: its turns never interleave
            turn = self.core.next_turn()
            loop = asyncio.get_running_loop()
            events: asyncio.Queue[Event | None] = asyncio.Queue()

            def put(event: Event) -> None:  # skills may publish from their threads
                if event.turn in (turn, None):
                    loop.call_soon_threadsafe(events.put_nowait, event)

            async def pump() -> None:
                while (event := await events.get()) is not None:
                    await send({"event": event.to_dict()})

            unsubscribe = self._bus.subscribe(put) if request.get("events") else (lambda: None)
            sending = asyncio.create_task(pump())
            try:
                self._bus.publish(Transcript(text=text, turn=turn))
                reply = await self.dialogue.handle(text, turn=turn)
                await asyncio.to_thread(self.memory.keep, self.dialogue)
            finally:
                unsubscribe()
                loop.call_soon_threadsafe(events.put_nowait, None)
                await sending
        return {"reply": reply, "turn": turn}

    async def knowledge_ask(self, request: dict[str, Any], send: Send) -> dict[str, Any]:
        question = _text(
            request, "question", 'ask a question: `assistant knowledge ask "how do I descale the coffee machine"`'
        )
        if self.core.answerer is None:
            raise KnowledgeError("this assistant answers no questions from documents")
        answer = await asyncio.to_thread(self.core.answerer.ask, question)
        return {
            "record": {"question": question, **answer.record()},
            "speech": answer.speech,
            "source": answer.hit.named() if answer.hit is not None else None,
            "passage": answer.hit.text if answer.hit is not None else None,
        }

    async def routine_run(self, request: dict[str, Any], send: Send) -> dict[str, Any]:
        """Run a routine now, as its trigger would: what it says is said in the room and sent back."""
        name = _text(request, "name", "name the routine: `assistant routines list` shows them")
        routine = self.core.routines.get(name)
        if routine is None:
            raise CommandLineError(f"no routine '{name}'; `assistant routines list` shows them", code="not_found")

        async def speak(text: str) -> None:
            await send({"say": text})
            await self.announce(text)

        return await self.core.routines.runner.run(routine, "manual", speak)

    async def cancel(self, request: dict[str, Any], send: Send) -> dict[str, Any]:
        """Cancel one timer, alarm or reminder by its id (or a timer by its name) in the live scheduler,
        so the assistant stops counting it at once."""
        kind = _text(request, "kind", "say what to cancel")
        ident = _text(request, "id", f"say which {kind} to cancel")
        return await asyncio.to_thread(cancel, self.core.scheduler, kind, ident)


def _text(request: dict[str, Any], key: str, missing: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CommandLineError(missing, code="usage")
    return value
