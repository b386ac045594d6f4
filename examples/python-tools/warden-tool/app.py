"""A warden tool in Python, against warden's own `warden:tool` world (wit/tool.wit).

Build:  componentize-py -d ../../../wit -w warden:tool/toolbox componentize app -o word_stats.wasm
"""

import json
from typing import List

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.tool import ToolError_Failed, ToolError_UnknownTool, ToolInfo
from wit_world.imports import host

ARGS_SCHEMA = json.dumps({
    "type": "object",
    "properties": {"text": {"type": "string", "description": "The text to measure."}},
    "required": ["text"],
    "additionalProperties": False,
})

OUTPUT_SCHEMA = json.dumps({
    "type": "object",
    "properties": {
        "words": {"type": "integer"},
        "lines": {"type": "integer"},
        "longest": {"type": ["string", "null"]},
    },
    "required": ["words", "lines", "longest"],
})


class Tool(exports.Tool):
    def describe(self) -> List[ToolInfo]:
        return [ToolInfo(
            name="py_word_stats",
            description="Counts the words and lines of a text and finds its longest word.",
            args_schema=ARGS_SCHEMA,
            output_schema=OUTPUT_SCHEMA,
        )]

    def invoke(self, name: str, args_json: str) -> str:
        if name != "py_word_stats":
            raise Err(ToolError_UnknownTool(name))
        text = json.loads(args_json)["text"]
        if len(text) > 1_000_000:
            raise Err(ToolError_Failed("the text is over 1 MB; send a shorter one"))
        words = text.split()
        host.log(host.LogLevel.INFO, f"{len(words)} words")
        return json.dumps({
            "words": len(words),
            "lines": len(text.splitlines()),
            "longest": max(words, key=len) if words else None,
        })
