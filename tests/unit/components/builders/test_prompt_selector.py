import pytest
from haystack.core.serialization import component_from_dict, component_to_dict
from haystack.dataclasses import ChatMessage

from components.builders.prompt_selector import PromptSelector
from service.pipelines import read_prompt

pytestmark = pytest.mark.unit

PROMPTS = {
    "default": "rag_answer",
    "chiffres": "rag_chiffres",
    "fiche": "rag_fiche",
    "summary": "rag_summary",
    "comparison": "rag_comparison",
}
REFUSAL = "« Les documents fournis ne contiennent pas cette information. »"


@pytest.fixture
def selector() -> PromptSelector:
    templates = {name: read_prompt(file) for name, file in PROMPTS.items()}
    return PromptSelector(templates, thinking_instruction=read_prompt("thinking_instruction"), max_history_tokens=30)


@pytest.mark.parametrize(
    ("query_class", "prompt_type", "expected"),
    [
        ("question_chiffree", None, "chiffres"),
        ("fiche_identite", None, "fiche"),
        ("autre", None, "default"),
        ("inconnue", None, "default"),
        ("question_chiffree", "summary", "summary"),
        ("autre", "comparison", "comparison"),
    ],
)
def test_the_class_or_the_explicit_type_picks_the_template(selector, query_class, prompt_type, expected):
    out = selector.run(query="Q ?", context="[1] x", query_class=query_class, prompt_type=prompt_type)
    assert out["prompt_name"] == expected


def test_unknown_prompt_type_is_refused(selector):
    with pytest.raises(ValueError, match="unknown prompt_type"):
        selector.run(query="Q ?", context="", prompt_type="poème")


@pytest.mark.parametrize("name", PROMPTS)
def test_every_prompt_is_french_and_cites(selector, name):
    system, user = selector.run(query="Quel délai ?", context="[1] Titre : T\nTrois mois.", prompt_type=name)["prompt"]
    assert system.is_from("system")
    assert "uniquement à partir des extraits numérotés" in system.text
    assert "[1]" in system.text  # shows how to cite
    assert "[1] Titre : T\nTrois mois." in user.text
    assert "Quel délai ?" in user.text


@pytest.mark.parametrize("name", ["default", "chiffres", "fiche"])
def test_question_prompts_leave_the_refusal_to_the_answerability_check(selector, name):
    # Asked to answer the refusal sentence when the passages do not hold the answer, the 1.5B model answered it to
    # 4 of the first 5 figure questions whose answer was in its passages (bench/answers.py, docs/answers.md « Which
    # local model »); the graph's answerability check refuses before the LLM instead.
    system = selector.run(query="Quel délai ?", context="[1] Trois mois.", prompt_type=name)["prompt"][0]
    assert REFUSAL not in system.text


@pytest.mark.parametrize("name", ["summary", "comparison"])
def test_summary_and_comparison_prompts_still_allow_the_refusal(selector, name):
    system = selector.run(query="Résume le sujet.", context="[1] Trois mois.", prompt_type=name)["prompt"][0]
    assert REFUSAL in system.text


def test_history_goes_before_the_question_trimmed_to_the_budget(selector):
    history = [
        ChatMessage.from_user("x" * 300),
        ChatMessage.from_assistant("ancienne"),
        ChatMessage.from_user("récente"),
    ]
    prompt = selector.run(query="Q ?", context="c", history=history)["prompt"]
    assert [m.text for m in prompt[1:-1]] == ["ancienne", "récente"]


def test_prompted_thinking(selector):
    prompt = selector.run(query="Q ?", context="c", prompted_thinking=True)["prompt"]
    assert "<thinking>" in prompt[0].text
    assert prompt[-1].is_from("assistant")
    assert prompt[-1].text == "<thinking>\n"


def test_a_template_with_a_line_bound_says_it_and_hands_it_to_the_generator():
    templates = {name: read_prompt(file) for name, file in PROMPTS.items()}
    selector = PromptSelector(templates, line_limits={"fiche": 6})
    fiche = selector.run(query="Présente-moi l'affaire A2511.", context="[1] x", query_class="fiche_identite")
    assert fiche["max_lines"] == 6
    assert "6 lignes au plus" in fiche["prompt"][0].text
    figure = selector.run(query="Quel montant ?", context="[1] x", query_class="question_chiffree")
    assert figure["max_lines"] == 0
    # No bound for the profile template: it asks for a short list, and the generator lets the answer run.
    unbounded = PromptSelector(templates).run(query="Présente A2511.", context="[1] x", query_class="fiche_identite")
    assert unbounded["max_lines"] == 0
    assert "liste courte" in unbounded["prompt"][0].text
    assert "0 lignes" not in unbounded["prompt"][0].text


def test_init_checks_the_templates():
    with pytest.raises(ValueError, match="default"):
        PromptSelector({"summary": "x"})
    with pytest.raises(ValueError, match="do not exist"):
        PromptSelector({"default": "x"}, class_prompts={"question_chiffree": "chiffres"})
    with pytest.raises(ValueError, match="do not exist"):
        PromptSelector({"default": "x"}, class_prompts={}, line_limits={"fiche": 8})
    with pytest.raises(ValueError, match="1 line or more"):
        PromptSelector({"default": "x"}, class_prompts={}, line_limits={"default": 0})


def test_to_dict_round_trip():
    template = "{% message role='user' %}{{ question }}{{ context }}{% endmessage %}"
    selector = PromptSelector({"default": template}, class_prompts={"autre": "default"})
    data = component_to_dict(selector, "prompt_builder")
    assert data["init_parameters"]["templates"] == selector.templates
    assert component_from_dict(PromptSelector, data, "prompt_builder").templates == selector.templates


def test_each_template_is_compiled_once_and_renders_each_question(selector, monkeypatch):
    from jinja2.sandbox import SandboxedEnvironment

    compiled = []
    compile_template = SandboxedEnvironment.compile

    def counting_compile(env, *args, **kwargs):
        compiled.append(args[0])
        return compile_template(env, *args, **kwargs)

    monkeypatch.setattr(SandboxedEnvironment, "compile", counting_compile)
    first = selector.run(query="Quel est le délai du chantier A2458 ?", context="[1] trois semaines")["prompt"]
    second = selector.run(query="Quel client pour la RD 912 ?", context="[1] le département")["prompt"]
    assert len(compiled) == 1
    assert "A2458" in first[-1].text
    assert "trois semaines" in first[-1].text
    assert "RD 912" in second[-1].text
    assert "A2458" not in second[-1].text
