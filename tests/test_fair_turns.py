"""Model calls queue fairly across users: a procedure run asking many cells at once, or one
analyst with many tabs, does not put everyone else behind all of its calls."""

from __future__ import annotations

import threading
import time

from compliance_auditor.llm.fair import FairGate
from compliance_auditor.llm.pool import LLMPool
from tests.support.fake_llm import FakeLLM


def served_order(slots_setting: str | None, set_env) -> list[str]:
    """One single-slot server; a run sends six calls at once, then an analyst asks once.
    Returns who was served, in the order the server received them."""
    with FakeLLM(latency_s=0.15, slots=1) as server:
        env = {"llm_endpoint": server.url, "llm_connect_timeout_s": 1, "llm_read_timeout_s": 10}
        if slots_setting is not None:
            env["llm_slots"] = slots_setting
        set_env(**env)
        pool = LLMPool()
        pool.slots()  # learned from the server's /props before anyone asks

        def ask(who: str) -> None:
            pool.complete([("user", who)], "grade", max_tokens=5, asker=who)

        run = [threading.Thread(target=ask, args=("run",)) for _ in range(6)]
        for thread in run:
            thread.start()
            time.sleep(0.01)
        time.sleep(0.05)
        analyst = threading.Thread(target=ask, args=("analyst",))
        analyst.start()
        for thread in [*run, analyst]:
            thread.join()
        return [request["messages"][-1]["content"] for request in server.requests]


def test_an_analyst_is_served_next_even_behind_a_run_of_many_cells(set_env):
    order = served_order(None, set_env)
    assert order.index("analyst") <= 1  # after the call already at the model, not after all six


def test_the_pool_sends_no_more_calls_than_the_server_says_it_serves(set_env):
    with FakeLLM(slots=3) as server:
        set_env(llm_endpoint=server.url)
        assert LLMPool().slots() == 3
    with FakeLLM() as server:  # a server that does not say: a few at once
        set_env(llm_endpoint=server.url)
        assert LLMPool().slots() == 8


def test_with_no_limit_the_servers_own_queue_decides(set_env):
    order = served_order("0", set_env)
    assert order.index("analyst") == 6  # first come, first served: behind the whole run


def test_askers_waiting_together_take_turns():
    gate, served = FairGate(slots=1), []
    lock = threading.Lock()

    def call(who: str) -> None:
        with gate.turn(who):
            with lock:
                served.append(who)
            time.sleep(0.02)

    with gate.turn("first"):  # hold the only slot while everyone queues
        threads = [threading.Thread(target=call, args=(who,)) for who in ["run"] * 4 + ["ann", "bob"]]
        for thread in threads:
            thread.start()
            time.sleep(0.01)
        assert gate.waiting() == {"run": 4, "ann": 1, "bob": 1}
    for thread in threads:
        thread.join()
    assert served[:3] == ["run", "ann", "bob"]  # one each, then the run's other cells
    assert served[3:] == ["run"] * 3


def test_a_run_in_its_background_process_leaves_half_the_slots_to_the_browser(set_env):
    with FakeLLM(slots=4) as server:
        set_env(llm_endpoint=server.url)
        assert LLMPool(background=True).slots() == 2
    with FakeLLM(slots=1) as server:  # one slot: the run still gets it, in turn with the app's calls
        set_env(llm_endpoint=server.url)
        assert LLMPool(background=True).slots() == 1
