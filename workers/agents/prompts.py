"""Parley's own default prompt and notice wording. Behaviour never depends on this text."""

from __future__ import annotations

DEFAULT_SYSTEM_MESSAGE = "You are a helpful AI assistant."

ASSISTANT_SYSTEM_MESSAGE = """You are a capable AI assistant who solves tasks by combining careful reasoning with code.
Work step by step. When you need to collect information or compute something, write code for the user to run: \
a complete python script in a ```python block, or shell commands in a ```sh block. Tag every code block with its \
language, give one block per reply, and make the code print everything you need to see. The user runs your code \
as-is and cannot edit it, so never leave placeholders for them to fill in.
To save code to a file before it runs, make its first line `# filename: <name>`.
When you solve a part yourself, reason it through plainly without code.
Read the results the user reports back. If the code failed, find the cause, fix it and send the full corrected code. \
If it still fails, rethink your approach. Check your answer before you give it, and cite evidence when you can.
When the whole task is finished, end your reply with "TERMINATE"."""

ASSISTANT_DESCRIPTION = (
    "A helpful assistant with strong general language skills, and skills in Python and the Linux command line."
)

USER_PROXY_DESCRIPTIONS = {
    "ALWAYS": "A human who pays close attention: answers questions, gives feedback, and can run code or shell commands.",
    "TERMINATE": "A user who can run Python code or shell commands and report back the results.",
    "NEVER": "A computer terminal that runs the python and sh code blocks it receives and returns their output.",
}

GROUP_CHAT_MANAGER_SYSTEM_MESSAGE = "Coordinator of a group chat."

SUMMARY_PROMPT = "Give the main takeaway of the conversation. Start directly with it, with no introduction."


def prompt_always(agent: str, sender: str) -> str:
    """P1: asked on every message in ALWAYS mode."""
    return (
        f"You are answering as {agent}. Your feedback goes to {sender}. "
        "Press enter to let the agent reply by itself, or type 'exit' to end the chat: "
    )


def prompt_limit(sender: str) -> str:
    """P2: asked at the auto-reply limit, on a normal message."""
    return (
        f"Your feedback for {sender}? Press enter to let the agent reply by itself, "
        "or type 'exit' to stop the chat: "
    )


def prompt_termination(sender: str) -> str:
    """P3: asked on a termination message."""
    return f"Your feedback for {sender}? Press enter or type 'exit' to stop the chat: "


NO_HUMAN_INPUT_NOTICE = ">>>>>>>> No answer from the human."
AUTO_REPLY_NOTICE = ">>>>>>>> Replying automatically..."

EXACT_TERMINATE_WARNING = (
    "{assistant!r} uses the default assistant prompt, which asks the model to end its final reply with "
    "'TERMINATE', but {receiver!r} only stops on a message that is exactly 'TERMINATE'. A reply such as "
    "'Done. TERMINATE' will not end the chat; pass is_termination_msg=ends_with_terminate to {receiver!r}."
)

UNKNOWN_MODE_WARNING = (
    "human_input_mode {mode!r} of agent {agent!r} is not one of 'ALWAYS', 'TERMINATE', 'NEVER'; "
    "it behaves like 'TERMINATE'."
)
