"""The session machine drawn as a Mermaid state diagram, straight from its declared tables."""

from __future__ import annotations

from collections import defaultdict

from voicerelief.session import STATES, TRANSITIONS

HIDDEN_SOURCES = {"*"}


def mermaid() -> str:
    """Mermaid text; every transition of the table, with wildcard ones drawn once as notes."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    everywhere: list[str] = []
    for transition in TRANSITIONS:
        triggers = transition["trigger"] if isinstance(transition["trigger"], list) else [transition["trigger"]]
        sources = transition["source"] if isinstance(transition["source"], list) else [transition["source"]]
        for source in sources:
            for trigger in triggers:
                if source in HIDDEN_SOURCES:
                    everywhere.append(f"{trigger} → {transition['dest']}")
                    continue
                destination = source if transition["dest"] is None else transition["dest"]
                conditions = transition.get("conditions", [])
                conditions = conditions if isinstance(conditions, list) else [conditions]
                label = trigger + (f" [{', '.join(conditions)}]" if conditions else "")
                if label not in edges[(source, destination)]:
                    edges[(source, destination)].append(label)
    lines = ["stateDiagram-v2", "    [*] --> boot"]
    for (source, destination), labels in edges.items():
        lines.append(f"    {source} --> {destination}: {' / '.join(labels)}")
    questions = [state["name"] for state in STATES if state.get("question")]
    lines.append(f"    note right of idle: from any state: {'; '.join(everywhere)}")
    lines.append("    classDef question fill:#eef")
    lines.append(f"    class {','.join(questions)} question")
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid())
