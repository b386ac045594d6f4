"""A plain typed WIT component in Python (wit/world.wit): warden offers each export as a tool.

Build:  componentize-py -d wit -w units componentize app -o units.wasm
"""

from typing import Optional

from componentize_py_types import Err
import wit_world
from wit_world import exports
from wit_world.exports.convert import Reading, Unit

TO_KELVIN = {
    Unit.CELSIUS: lambda v: v + 273.15,
    Unit.FAHRENHEIT: lambda v: (v - 32) * 5 / 9 + 273.15,
    Unit.KELVIN: lambda v: v,
}
FROM_KELVIN = {
    Unit.CELSIUS: lambda k: k - 273.15,
    Unit.FAHRENHEIT: lambda k: (k - 273.15) * 9 / 5 + 32,
    Unit.KELVIN: lambda k: k,
}


class WitWorld(wit_world.WitWorld):
    def round_to(self, value: float, digits: Optional[int]) -> float:
        return round(value, 2 if digits is None else digits)


class Convert(exports.Convert):
    def temperature(self, reading: Reading, to: Unit) -> Reading:
        kelvin = TO_KELVIN[reading.scale](reading.value)
        if kelvin < 0:
            raise Err(f"{reading.value} is below absolute zero")
        return Reading(value=FROM_KELVIN[to](kelvin), scale=to)
