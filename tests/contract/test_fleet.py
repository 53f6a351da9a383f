"""The fleet relation (qtap_gitops/fleet.py): deploy order and the owner/member contract, pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qtap_gitops.fleet import FleetNode, deploy_order, relation_problems
from qtap_gitops.settings import MAX_RING, FleetSettings

DIGEST = "a" * 64


def node(
    stack: str,
    owner: str | None = None,
    *,
    ring: int = 0,
    environment: str | None = None,
    digest: str | None = DIGEST,
    sealed: bool = False,
    vault: str | None = "https://vault.acme.internal:8200",
    passes: bool = True,
) -> FleetNode:
    owner = owner or stack
    return FleetNode(
        stack=stack,
        source=f"Pulumi.{stack}.yaml",
        fleet=FleetSettings(environment=environment or owner, owner=owner, ring=ring),
        owner_at=(7, 12),
        snapshot_sha256=digest,
        sealed=sealed,
        vault_address=vault,
        passes=passes,
    )


def codes(nodes: list[FleetNode], known: tuple[str, ...] = ()) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for stack, problem in relation_problems(nodes, known):
        found.setdefault(stack, []).append(problem.code)
    return found


def test_an_owner_and_two_members_pass_and_deploy_owner_first():
    nodes = [node("prod-us", "prod", ring=2), node("prod-eu", "prod", ring=2), node("prod", ring=2)]
    nodes.append(node("dev"))
    assert relation_problems(nodes) == []
    assert [n.stack for n in deploy_order(nodes)] == ["dev", "prod", "prod-eu", "prod-us"]


def test_each_problem_names_the_member_file_position_and_a_fix():
    nodes = [node("prod"), node("prod-eu", "prod", digest="b" * 64)]
    ((stack, problem),) = relation_problems(nodes)
    assert stack == "prod-eu"
    assert problem.code == "fleet-snapshot"
    assert problem.location() == "Pulumi.prod-eu.yaml:7:12"
    assert problem.yaml_path == "qtap:fleet.owner"
    assert "differs from its owner prod" in problem.message
    assert "qtap:snapshot" in problem.fix


def test_the_cross_stack_contract_refuses_what_cannot_work():
    nodes = [
        node("prod"),
        node("missing-owner", "nowhere"),
        node("chained", "prod-eu"),
        node("prod-eu", "prod", ring=1),
        node("a", "b"),
        node("b", "a"),
        node("sealed"),
        node("needs-vault", "sealed"),
        node("other-env", "prod", environment="staging"),
        node("too-early", "late"),
        node("late", ring=3),
        node("elsewhere", "prod", vault="https://vault.eu.acme.internal:8200"),
        node("broken"),
        node("of-broken", "broken"),
        node("second-owner", environment="prod"),
    ]
    nodes[6] = node("sealed", sealed=True, vault=None)
    nodes[12] = node("broken", passes=False, digest=None)
    found = codes(nodes, known=("unparsable",))
    assert found == {
        "missing-owner": ["fleet-owner-missing"],
        "chained": ["fleet-owner-is-member"],
        "a": ["fleet-cycle"],
        "b": ["fleet-cycle"],
        "needs-vault": ["fleet-owner-sealed"],
        "other-env": ["fleet-environment"],
        "too-early": ["fleet-ring"],
        "elsewhere": ["fleet-vault"],
        "of-broken": ["fleet-owner-failing"],
        "second-owner": ["fleet-two-owners"],
    }
    messages = {s: p for s, p in relation_problems(nodes, ("unparsable",))}
    assert "set qtap:fleet.owner to prod" in messages["chained"].fix
    assert "a -> b -> a" in messages["a"].message


def test_a_member_behind_someone_elses_cycle_is_not_sent_into_it():
    nodes = [node("x", "a"), node("a", "b"), node("b", "a")]
    problems = dict(relation_problems(nodes))
    assert problems["x"].code == "fleet-owner-is-member"
    assert "set qtap:fleet.owner to the stack that owns the environment" in problems["x"].fix
    assert problems["a"].code == problems["b"].code == "fleet-cycle"


def test_an_owner_whose_settings_do_not_parse_is_failing_not_missing():
    found = codes([node("eu", "unparsable")], known=("unparsable",))
    assert found == {"eu": ["fleet-owner-failing"]}


# -- hostile relations: any owner graph gets answers, never an exception -------------------------

STACK_NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@st.composite
def relations(draw: st.DrawFn) -> list[FleetNode]:
    stacks = draw(st.lists(STACK_NAMES, min_size=1, max_size=6, unique=True))
    return [
        node(
            stack,
            draw(st.one_of(STACK_NAMES, st.just("ghost"))),
            ring=draw(st.integers(0, MAX_RING)),
            environment=draw(st.sampled_from(["x", "y"])),
            digest=draw(st.sampled_from([DIGEST, "b" * 64, None])),
            sealed=draw(st.booleans()),
        )
        for stack in stacks
    ]


@given(relations())
def test_any_relation_is_answered_and_a_clean_one_deploys_owners_first(nodes: list[FleetNode]):
    problems = relation_problems(nodes)
    for stack, problem in problems:
        assert problem.file == f"Pulumi.{stack}.yaml"
        assert problem.fix
    refused = {stack for stack, _ in problems}
    by_stack = {n.stack: n for n in nodes}
    for member in (n for n in nodes if n.is_member and n.stack not in refused):
        owner = by_stack[member.owner]  # never missing, a member, in a later ring, ...
        assert not owner.is_member
        assert owner.fleet.ring <= member.fleet.ring
        assert owner.fleet.environment == member.fleet.environment
        order = [n.stack for n in deploy_order(nodes)]
        assert order.index(owner.stack) < order.index(member.stack)
    # Every stack of a cycle is refused.
    for n in nodes:
        seen, current = [n.stack], n
        while current.is_member and current.owner in by_stack and current.owner not in seen:
            current = by_stack[current.owner]
            seen.append(current.stack)
        if current.is_member and current.owner == n.stack:
            assert n.stack in refused
    order = deploy_order(nodes)
    assert sorted(x.stack for x in order) == sorted(by_stack)
