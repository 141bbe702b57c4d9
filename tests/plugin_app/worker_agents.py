"""An agent added by an installed app in its worker_agents module."""

from agents.registry import Agent, AgentInputError, register


@register
class WordCount(Agent):
    name = "word_count"
    description = "Counts the words of input.text."

    def validate(self, input):  # noqa: A002
        if not isinstance(input.get("text"), str):
            raise AgentInputError("must be a string.", field="text")
        return {"text": input["text"]}

    def run(self, task):
        words = task.input["text"].split()
        task.log(f"{len(words)} words")
        return {"words": len(words)}
