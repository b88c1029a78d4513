"""Who is told what by email (communities/notifications.py), and where the links lead."""

import pytest
from django.db import transaction
from django.urls import reverse

from background import outbox
from background.models import OutboxMessage
from communities import notifications, services
from communities.models import Membership

from .factories import MemberFactory, member_named, person_in

State, Role = Membership.State, Membership.Role


@pytest.fixture
def admin(directory_admin):
    return directory_admin.member


@pytest.fixture
def site(settings) -> str:
    settings.KCDIR_SITE_URL = "https://kcdir.example.org/"
    return "https://kcdir.example.org"


@pytest.fixture
def sent(mailoutbox, django_capture_on_commit_callbacks):
    """Run the block, then the on-commit callbacks (the emails), and give the outbox."""

    class Sent:
        def __call__(self):
            return django_capture_on_commit_callbacks(execute=True)

    Sent.outbox = mailoutbox
    return Sent()


def test_a_person_added_is_told_by_whom_with_their_role_and_a_link(open_kc, admin, site, sent):
    person = member_named("Quinn Query")

    with sent():
        services.add_members(community=open_kc, members=[person], actor=admin)

    assert [email.to for email in sent.outbox] == [[person.user.email]]
    email = sent.outbox[0]
    assert email.subject == "You are now in Claims Turnaround"
    assert "Dana Admin added you to Claims Turnaround. Your role: Member." in email.body
    assert f"{site}/c/claims-turnaround/" in email.body


def test_a_bulk_add_sends_one_email_each_over_one_connection(
    open_kc, admin, site, sent, monkeypatch
):
    people = [MemberFactory() for _ in range(3)]
    opened = []
    real = outbox.get_connection

    def counting(*args, **kwargs):
        opened.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "get_connection", counting)

    with sent():
        services.add_members(community=open_kc, members=people, actor=admin)

    assert sorted(email.to[0] for email in sent.outbox) == sorted(p.user.email for p in people)
    assert len(opened) == 1


def test_nothing_is_sent_when_the_change_is_rolled_back(open_kc, sent):
    membership = open_kc.memberships.get(role=Role.STEWARD)
    with sent(), pytest.raises(RuntimeError), transaction.atomic(), notifications.batch():
        notifications.added(membership, actor=None)
        raise RuntimeError("the change failed")

    assert sent.outbox == []
    assert not OutboxMessage.objects.exists()
    with sent():
        notifications.added(membership, actor=None)  # and the batch is over
    assert len(sent.outbox) == 1


def test_a_person_removed_is_told_by_whom_and_why(open_kc, admin, site, sent):
    person = person_in(open_kc, State.ACTIVE)
    membership = open_kc.memberships.get(member=person)

    with sent():
        services.remove_member(
            community=open_kc, membership=membership, actor=admin, reason="Left the company."
        )

    assert [email.to for email in sent.outbox] == [[person.user.email]]
    email = sent.outbox[0]
    assert email.subject == "You are no longer on the list of Claims Turnaround"
    assert "Dana Admin removed you from Claims Turnaround." in email.body
    assert "The reason: Left the company." in email.body


def test_a_withdrawn_invitation_says_so(invite_kc, admin, sent):
    person = person_in(invite_kc, State.INVITED)
    membership = invite_kc.memberships.get(member=person)

    with sent():
        services.remove_member(community=invite_kc, membership=membership, actor=admin)

    assert sent.outbox[0].subject == "Your invitation to Pricing Council was withdrawn"
    assert "Dana Admin withdrew your invitation to Pricing Council." in sent.outbox[0].body


def test_a_role_change_tells_the_person_and_the_sponsor_it_replaces(open_kc, admin, sent):
    person = person_in(open_kc, State.ACTIVE)
    membership = open_kc.memberships.get(member=person)
    old_sponsor = open_kc.memberships.get(role=Role.SPONSOR).member

    with sent():
        services.change_role(
            community=open_kc, membership=membership, actor=admin, role=Role.SPONSOR
        )

    by_address = {email.to[0]: email for email in sent.outbox}
    assert set(by_address) == {person.user.email, old_sponsor.user.email}
    assert by_address[person.user.email].subject == (
        "Your role in Claims Turnaround is now Sponsor"
    )
    assert "you are now its Member" in by_address[old_sponsor.user.email].body


def test_an_invitation_names_who_invited_you(invite_kc, site, sent):
    ian = invite_kc.memberships.get(role=Role.STEWARD).member
    person = MemberFactory()

    with sent():
        services.add_members(community=invite_kc, members=[person], actor=ian, invite=True)

    email = sent.outbox[0]
    assert email.subject == "Ian Steward invites you to join Pricing Council"
    assert "Ian Steward invites you to join the knowledge community Pricing Council." in (
        email.body
    )
    assert f"{site}/c/pricing-council/" in email.body


def test_directory_admins_and_only_they_are_told_of_a_new_proposal(
    directory_admin, superuser, staff, site, sent
):
    with sent():
        community = services.propose_kc(
            actor=staff.member, name="Flood Models", purpose_statement="Price floods by 2030"
        )

    assert sorted(sent.outbox[0].to) == sorted([directory_admin.email, superuser.email])
    assert len(sent.outbox) == 1
    email = sent.outbox[0]
    assert email.subject == "New proposal: Flood Models"
    assert "Sam Staff proposes a knowledge community: Flood Models." in email.body
    expected = site + reverse("communities:proposal_decide", args=[community.slug])
    assert expected in email.body


def test_a_roster_import_tells_each_person_added_removed_or_re_roled(open_kc, steward, sent):
    stella = steward.member
    mo = person_in(open_kc, State.ACTIVE)
    priya = member_named("Priya Patel")
    text = f"email,role\n{priya.user.email},member\n{mo.user.email},steward\n"
    pending = services.preview_roster_import(
        community=open_kc, actor=stella, file_name="r.csv", text=text, remove_absent=False
    )

    with sent():
        services.apply_roster_import(roster_import=pending, actor=stella)

    subjects = {email.to[0]: email.subject for email in sent.outbox}
    assert subjects == {
        priya.user.email: "You are now in Claims Turnaround",
        mo.user.email: "Your role in Claims Turnaround is now Steward",
    }


# -- links use the address people reached kcdir at --------------------------------------


def test_without_a_site_url_links_use_the_address_of_the_request(
    client, open_kc, steward, outsider, settings, sent
):
    settings.KCDIR_SITE_URL = ""
    settings.ALLOWED_HOSTS = ["kcdir.internal"]
    client.force_login(steward)

    with sent():
        response = client.post(
            reverse("communities:members_add", args=[open_kc.slug]),
            {"pasted": "outsider", "mode": "add"},
            HTTP_HOST="kcdir.internal:8123",
        )

    assert response.status_code == 200
    assert [email.to for email in sent.outbox] == [[outsider.email]]
    assert "http://kcdir.internal:8123/c/claims-turnaround/" in sent.outbox[0].body


def test_the_site_url_setting_wins_over_the_request(
    client, open_kc, steward, outsider, settings, sent
):
    settings.KCDIR_SITE_URL = "https://kcdir.example.org"
    settings.ALLOWED_HOSTS = ["kcdir.internal"]
    client.force_login(steward)

    with sent():
        client.post(
            reverse("communities:members_add", args=[open_kc.slug]),
            {"pasted": "outsider", "mode": "add"},
            HTTP_HOST="kcdir.internal:8123",
        )

    assert "https://kcdir.example.org/c/claims-turnaround/" in sent.outbox[0].body


def test_outside_a_request_links_use_the_development_address(open_kc, admin, settings, sent):
    settings.KCDIR_SITE_URL = ""

    with sent():
        services.add_members(community=open_kc, members=[MemberFactory()], actor=admin)

    assert "http://127.0.0.1:8000/c/claims-turnaround/" in sent.outbox[0].body
