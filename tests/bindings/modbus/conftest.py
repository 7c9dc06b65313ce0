"""Modbus fixtures: pymodbus's own server (TCP on a free port, or RTU on a PTY
made by socat) in a thread of the test process with an event loop of its own,
so a test can stop it, start it again and change its values in between."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

from tests.bindings.serial.conftest import ptys  # noqa: F401  (a fixture, reused for RTU)
from tests.harness import free_port

# pymodbus warns at every start that the datastore classes used here are
# deprecated (for v4); they are the ones 3.x documents, so the noise goes.
logging.getLogger("pymodbus").setLevel(logging.ERROR)


def datastore() -> ModbusServerContext:
    """100 of each kind from protocol address 0 (a block given address 1 starts
    there: these 3.x classes count from 1); input registers hold 100 + address."""
    device = ModbusDeviceContext(
        co=ModbusSequentialDataBlock(1, [False] * 100),
        di=ModbusSequentialDataBlock(1, [i % 2 == 0 for i in range(100)]),
        hr=ModbusSequentialDataBlock(1, [0] * 100),
        ir=ModbusSequentialDataBlock(1, [100 + i for i in range(100)]),
    )
    return ModbusServerContext(devices={1: device})


class Server:
    """A pymodbus server that can be stopped and started again on the same address."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Any = None
        self.start()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> None:
        async def up() -> Any:
            server = self.make()  # made in the loop: pymodbus binds it to the running loop
            await server.serve_forever(background=True)
            return server

        self.server = self._call(up())

    def stop(self) -> None:
        if self.server is not None:
            self._call(self.server.shutdown())
            self.server = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class TcpDevice(Server):
    def __init__(self) -> None:
        self.port = free_port()
        self.context = datastore()
        super().__init__(lambda: ModbusTcpServer(self.context, address=("127.0.0.1", self.port)))

    def set_holding(self, address: int, values: list[int]) -> None:
        """Changes the device's values as another master on the bus would."""
        with ModbusTcpClient("127.0.0.1", port=self.port, timeout=2) as client:
            assert not client.write_registers(address, values, device_id=1).isError()


@pytest.fixture
def tcp_device() -> Iterator[TcpDevice]:
    device = TcpDevice()
    yield device
    device.close()


@pytest.fixture
def rtu_device(ptys: Callable[[str], Any]) -> Iterator[tuple[Any, Server]]:  # noqa: F811
    pair = ptys("rtu")
    context = datastore()
    server = Server(lambda: ModbusSerialServer(context, port=str(pair.b), baudrate=9600))
    yield pair, server
    server.close()
