"""`python -m webhook serve` as a process: --dev start-up, the real profiles, SIGTERM under load."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.integration.webhook.helpers import apply_response, client_context
from tests.integration.webhook.process import DEV_SNI, EXIT_DEADLINE, REPO, webhook_process

GOLDEN = Path(__file__).resolve().parents[2] / "golden"


def _golden_request(case: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((GOLDEN / case / "request.json").read_text())
    return request


async def test_dev_mode_logs_its_ca_and_mutates_a_portworx_daemonset_with_the_real_profiles() -> (
    None
):
    async with webhook_process() as server:
        listening = next(line for line in server.lines if line["msg"] == "listening")
        assert listening["host"] == "127.0.0.1"
        assert server.dev_ca.is_file()
        assert str(server.dev_ca) in listening["try"]
        assert listening["version"] == metadata.version("vault-storage-injector")
        review = _golden_request("portworx-daemonset")
        expected = json.loads((GOLDEN / "portworx-daemonset" / "expected.json").read_text())
        connector = aiohttp.TCPConnector(ssl=client_context(server.dev_ca))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.post(
                f"https://127.0.0.1:{server.port}/mutate",
                data=orjson.dumps(review),
                headers={"Content-Type": "application/json"},
                server_hostname=DEV_SNI,
            ) as resp,
        ):
            assert resp.status == 200
            answer = await resp.json()
        response = answer["response"]
        assert response["uid"] == review["request"]["uid"]
        mutated = apply_response(review["request"]["object"], response)
        assert mutated == expected
        # The DaemonSet in kube-system: Portworx reads portworx/px-vault itself (seed 000).
        portworx = mutated["spec"]["template"]["spec"]["containers"][0]
        assert portworx["args"][-2:] == ["-secret_type", "vault"]
        assert not [e for e in portworx["env"] if e["name"].startswith("VAULT_")]
        assert response["warnings"][0].startswith("Portworx reads portworx/px-vault itself")
        server.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.proc.wait(), EXIT_DEADLINE) == 0


async def _open_in_flight(port: int, ca: Path, body: bytes) -> tuple[Any, Any]:
    """A request whose headers the server has read and is handling (it sent 100 Continue)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(ca), server_hostname=DEV_SNI
    )
    writer.write(
        b"POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
    return reader, writer


async def _finish(reader: Any, writer: Any, body: bytes) -> tuple[int, dict[str, Any]]:
    writer.write(body)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    payload = await asyncio.wait_for(reader.readexactly(length), 10)
    writer.close()
    return status, orjson.loads(payload)


async def _refuses_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_sigterm_during_load_answers_every_in_flight_request_and_exits_0() -> None:
    async with webhook_process("--shutdown-timeout", "8", "--read-timeout", "20") as server:
        base = _golden_request("portworx-daemonset")
        stop_load = asyncio.Event()
        statuses: list[int] = []

        async def load(session: aiohttp.ClientSession) -> None:
            while not stop_load.is_set():
                review = json.loads(json.dumps(base))
                review["request"]["uid"] = str(uuid.uuid4())
                try:
                    async with session.post(
                        f"https://127.0.0.1:{server.port}/mutate",
                        data=orjson.dumps(review),
                        headers={"Content-Type": "application/json"},
                        server_hostname=DEV_SNI,
                    ) as resp:
                        statuses.append(resp.status)
                        answer = await resp.json()
                        assert answer["response"]["uid"] == review["request"]["uid"]
                except (TimeoutError, aiohttp.ClientConnectionError):
                    # Connections opened or reused after the listener closed; not in flight.
                    await asyncio.sleep(0.01)

        connector = aiohttp.TCPConnector(ssl=client_context(server.dev_ca), limit=20)
        async with aiohttp.ClientSession(connector=connector) as session:
            workers = [asyncio.create_task(load(session)) for _ in range(8)]
            while len(statuses) < 40:
                await asyncio.sleep(0.01)

            bodies = []
            for _ in range(10):
                review = json.loads(json.dumps(base))
                review["request"]["uid"] = str(uuid.uuid4())
                bodies.append(orjson.dumps(review))
            in_flight = await asyncio.gather(
                *(_open_in_flight(server.port, server.dev_ca, body) for body in bodies)
            )

            server.proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            deadline = signalled + 5
            while not await _refuses_connections(server.port):
                assert time.monotonic() < deadline, "the listener stayed open after SIGTERM"
                await asyncio.sleep(0.02)

            answers = await asyncio.gather(
                *(_finish(r, w, body) for (r, w), body in zip(in_flight, bodies, strict=True))
            )
            stop_load.set()
            await asyncio.gather(*workers)

        for (status, answer), body in zip(answers, bodies, strict=True):
            assert status == 200
            assert answer["response"]["uid"] == orjson.loads(body)["request"]["uid"]
            assert answer["response"]["patchType"] == "JSONPatch"
        assert statuses
        assert set(statuses) == {200}
        code = await asyncio.wait_for(server.proc.wait(), EXIT_DEADLINE)
        assert code == 0
        assert time.monotonic() - signalled < EXIT_DEADLINE
        assert any(line["msg"].startswith("shutting down") for line in server.lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port: '70000' is not a port number (0-65535)"),
        (["--tls-cert", "x.crt"], "--dev makes its own certificates"),
        (["--read-timeout", "-1"], "--read-timeout: '-1' is not a positive number of seconds"),
    ],
)
async def test_bad_flags_exit_2_with_one_line_and_no_traceback(
    args: list[str], message: str
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webhook", "serve", "--dev", *args,
        cwd=REPO, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    text = err.decode()
    assert text.count("\n") == 1
    assert message in text
    assert "Traceback" not in text
