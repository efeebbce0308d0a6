"""llm_config normalisation and validation, config-list helpers, pricing, usage summaries and state."""

from __future__ import annotations

import json
import logging

import pytest

from workers.agents.llm import LLMClient, OpenAIWrapper, config_list_from_json, filter_config, normalise_llm_config
from workers.agents.llm import pricing


def test_top_level_keys_apply_to_every_entry_and_entry_keys_win():
    entries = normalise_llm_config({"config_list": [{"model": "a", "temperature": 0.9}, {"model": "b"}],
                                    "temperature": 0.1, "timeout": 30})
    assert [(e["model"], e["temperature"], e["timeout"], e["api_type"]) for e in entries] == [
        ("a", 0.9, 30, "openai"), ("b", 0.1, 30, "openai")]
    assert normalise_llm_config({"model": "solo", "api_type": "anthropic"}) == [{"model": "solo", "api_type": "anthropic"}]
    assert normalise_llm_config(False) is None and normalise_llm_config(None) is None


def test_the_callers_config_is_not_modified():
    config = {"config_list": [{"model": "a"}], "temperature": 0}
    normalise_llm_config(config)
    assert config == {"config_list": [{"model": "a"}], "temperature": 0}


@pytest.mark.parametrize("config, message", [
    ({"config_list": []}, "config_list must be a non-empty list"),
    ({"config_list": [{"api_key": "k"}]}, r"config_list\[0\]: model must be a non-empty string"),
    ({"config_list": [{"model": "a"}, {"model": ""}]}, r"config_list\[1\]: model"),
    ({"temperature": 0.5}, "needs a non-empty config_list or a model"),
    ({"model": "a", "temperature": 1.5}, r"temperature must be a number in \[0, 1\], got 1.5"),
    ({"config_list": [{"model": "a", "temperature": -0.1}]}, "temperature"),
    ({"model": "a", "timeout": 0}, "timeout must be a number > 0"),
    ({"model": "a", "max_retries": -1}, "max_retries must be an integer"),
    ({"model": "a", "price": [1]}, r"price must be \[prompt_per_1k, completion_per_1k\]"),
    ({"model": "a", "base_url": "localhost:11434"}, "base_url must be an http"),
    ({"config_list": ["gpt-4"]}, r"config_list\[0\] must be a dict"),
])
def test_validation_errors_name_the_argument(config, message):
    with pytest.raises(ValueError, match=message):
        normalise_llm_config(config)


def test_client_construction_errors():
    with pytest.raises(ValueError, match="llm_config is False"):
        LLMClient(False)
    with pytest.raises(ValueError, match="'bedrock' .*not supported"):
        LLMClient({"config_list": [{"model": "m", "api_type": "bedrock"}]})
    with pytest.raises(ValueError, match="replay: replies must be a list"):
        LLMClient({"api_type": "replay", "replies": "hello"})


def test_openai_wrapper_keyword_form():
    client = OpenAIWrapper(config_list=[{"model": "replay", "api_type": "replay", "replies": ["hi"]}], temperature=0)
    assert client.config_list[0]["temperature"] == 0
    assert client.create(messages=[{"role": "user", "content": "x"}]).text == "hi"


def test_config_list_from_json_sources_and_filters(tmp_path, monkeypatch):
    entries = [{"model": "gpt-4o", "tags": ["fast", "cheap"]}, {"model": "claude-haiku-4-5", "api_type": "anthropic"},
               {"model": "gpt-4.1", "tags": ["smart"]}]
    path = tmp_path / "OAI_CONFIG_LIST"
    path.write_text(json.dumps(entries))
    monkeypatch.delenv("OAI_CONFIG_LIST", raising=False)
    assert config_list_from_json("OAI_CONFIG_LIST", file_location=str(tmp_path)) == entries
    monkeypatch.setenv("OAI_CONFIG_LIST", json.dumps(entries))
    assert [e["model"] for e in config_list_from_json("OAI_CONFIG_LIST", filter_dict={"tags": ["fast"]})] == ["gpt-4o"]
    monkeypatch.setenv("OAI_CONFIG_LIST", str(path))
    anthropic_only = config_list_from_json("OAI_CONFIG_LIST", filter_dict={"api_type": ["anthropic"]})
    assert [e["model"] for e in anthropic_only] == ["claude-haiku-4-5"]
    monkeypatch.delenv("OAI_CONFIG_LIST")
    with pytest.raises(FileNotFoundError, match="OAI_CONFIG_LIST"):
        config_list_from_json("OAI_CONFIG_LIST", file_location=str(tmp_path / "nowhere"))
    monkeypatch.setenv("BROKEN_LIST", "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        config_list_from_json("BROKEN_LIST")


def test_filter_config_semantics():
    entries = [{"model": "a", "tags": ["x"]}, {"model": "b"}, {"model": "c", "tags": ["y", "x"]}]
    assert [e["model"] for e in filter_config(entries, {"tags": ["x"]})] == ["a", "c"]
    assert [e["model"] for e in filter_config(entries, {"tags": ["x"]}, exclude=True)] == ["b"]
    assert [e["model"] for e in filter_config(entries, {"tags": [None]})] == ["b"]
    assert [e["model"] for e in filter_config(entries, {"model": "b"})] == ["b"]
    assert filter_config(entries, None) == entries


def test_cost_from_table_snapshot_price_override_and_unknown(caplog):
    assert pricing.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert pricing.cost("gpt-4o-2024-08-06", 1000, 0) == pytest.approx(0.0025)
    assert pricing.cost("claude-sonnet-4-5-20250929", 0, 1000) == pytest.approx(0.015)
    assert pricing.cost("gpt-4o", 2000, 1000, price=[0.01, 0.03]) == pytest.approx(0.05)
    with caplog.at_level(logging.WARNING, logger="workers.agents.llm.pricing"):
        assert pricing.cost("mystery-model-x", 100, 100) == 0.0
        assert pricing.cost("mystery-model-x", 100, 100) == 0.0
    assert len([r for r in caplog.records if "mystery-model-x" in r.getMessage()]) == 1


def test_price_override_and_usage_summaries_through_the_client(fake_llm, capsys):
    fake_llm.reply("one two")
    client = LLMClient({"config_list": [fake_llm.config_entry("gpt-4o", price=[1.0, 2.0])]})
    first = client.create(messages=[{"role": "user", "content": "a b c"}])
    assert first.cost == pytest.approx((3 * 1.0 + 2 * 2.0) / 1000)
    client.create(messages=[{"role": "user", "content": "d"}])
    summary = client.total_usage_summary
    assert summary == client.actual_usage_summary
    assert summary["gpt-4o"] == {"cost": pytest.approx(0.007 + 0.005), "prompt_tokens": 4, "completion_tokens": 4,
                                 "total_tokens": 8}
    assert summary["total_cost"] == pytest.approx(0.012)
    client.print_usage_summary()
    assert "gpt-4o" in capsys.readouterr().out

    state = json.loads(json.dumps(client.get_state()))  # plain JSON
    restored = LLMClient({"config_list": [fake_llm.config_entry("gpt-4o", price=[1.0, 2.0])]})
    assert restored.total_usage_summary is None
    restored.set_state(state)
    assert restored.total_usage_summary == summary
    restored.clear_usage_summary()
    assert restored.total_usage_summary is None and restored.actual_usage_summary is None
    with pytest.raises(ValueError, match="set_state"):
        restored.set_state("nope")


def test_extract_text_or_completion_object():
    client = LLMClient({"api_type": "replay", "replies": ["plain", {"tool_calls": [{"name": "f", "arguments": {}}]}]})
    text = client.create(messages=[{"role": "user", "content": "x"}])
    assert client.extract_text_or_completion_object(text) == ["plain"]
    calls = client.create(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "content": "plain"}])
    assert client.extract_text_or_completion_object(calls) == [calls.message]


def test_custom_model_client_needs_registration():
    class EchoClient:
        def __init__(self, config, **kwargs):
            self.prefix = kwargs.get("prefix", "")

        def create(self, params):
            from types import SimpleNamespace

            return SimpleNamespace(id="r1", model="echo-1", text=self.prefix + params["messages"][-1]["content"])

        def message_retrieval(self, response):
            return [response.text]

        def cost(self, response):
            return 0.5

        @staticmethod
        def get_usage(response):
            return {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "cost": 0.5, "model": "echo-1"}

    client = LLMClient({"model": "echo-1", "model_client_cls": "EchoClient"})
    with pytest.raises(RuntimeError, match="EchoClient"):
        client.create(messages=[{"role": "user", "content": "hi"}])
    client.register_model_client(EchoClient, prefix="> ")
    response = client.create(messages=[{"role": "user", "content": "hi"}])
    assert (response.text, response.cost, response.usage["total_tokens"]) == ("> hi", 0.5, 3)
    with pytest.raises(ValueError, match="no config entry"):
        client.register_model_client(dict)


def test_config_lists_from_keys_models_and_dotenv(tmp_path, monkeypatch):
    from workers.agents import llm

    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_API_BASE", "PARLEY_T_KEY"):
        monkeypatch.setenv(name, "x")  # recorded as originally unset, so teardown removes what the code sets
        monkeypatch.delenv(name)
    (tmp_path / "key_openai.txt").write_text("sk-one\nsk-two\n")
    (tmp_path / "base_openai.txt").write_text("http://127.0.0.1:9/v1\n")
    entries = llm.config_list_openai_aoai(str(tmp_path))
    assert entries == [{"api_key": "sk-one", "base_url": "http://127.0.0.1:9/v1"}, {"api_key": "sk-two"}]
    assert llm.config_list_openai_aoai(str(tmp_path), exclude="openai") == []
    by_model = llm.config_list_from_models(str(tmp_path), model_list=["gpt-4o", "gpt-4.1"])
    assert [(e["model"], e["api_key"]) for e in by_model] == [
        ("gpt-4o", "sk-one"), ("gpt-4o", "sk-two"), ("gpt-4.1", "sk-one"), ("gpt-4.1", "sk-two")]

    dotenv = tmp_path / ".env"
    dotenv.write_text("# keys\nexport PARLEY_T_KEY='sk-dot'\n")
    loaded = llm.config_list_from_dotenv(str(dotenv), {"gpt-4o": "PARLEY_T_KEY",
                                                       "claude-haiku-4-5": {"api_key_env_var": "PARLEY_T_KEY",
                                                                            "api_type": "anthropic"},
                                                       "other": "PARLEY_UNSET_KEY"})
    assert loaded == [{"model": "gpt-4o", "api_key": "sk-dot"},
                      {"model": "claude-haiku-4-5", "api_key": "sk-dot", "api_type": "anthropic"}]
    with pytest.raises(FileNotFoundError, match="config_list_from_dotenv"):
        llm.config_list_from_dotenv(str(tmp_path / "missing.env"))
    assert isinstance(object(), llm.ModelClient) is False
