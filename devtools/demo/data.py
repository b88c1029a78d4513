"""The demo organisation: departments and their jobs, names, purposes, communities,
the demo accounts and where each of them stands. ``DemoBuilder`` writes it."""

from dataclasses import dataclass

from communities.models import Community, Purpose

DEPARTMENTS = {
    "Claims Operations": ["Claims handler", "Senior claims handler", "Claims team lead"],
    "Underwriting": ["Underwriter", "Senior underwriter", "Pricing analyst"],
    "Customer Service": ["Customer adviser", "Service team lead", "Complaints specialist"],
    "Engineering": ["Software engineer", "Senior software engineer", "Staff engineer"],
    "Data & Analytics": ["Data analyst", "Data scientist", "Analytics engineer"],
    "IT Operations": ["Systems administrator", "Site reliability engineer", "Service desk analyst"],
    "Finance": ["Accountant", "Financial controller", "FP&A analyst"],
    "Human Resources": ["HR business partner", "Learning designer", "Recruiter"],
    "Legal & Compliance": ["Compliance officer", "Legal counsel", "Risk analyst"],
    "Marketing": ["Marketing manager", "Content designer", "Brand strategist"],
    "Product": ["Product manager", "UX researcher", "Product designer"],
}

EXPERTISE = {
    "Claims Operations": ["claims triage", "fraud detection", "motor claims", "loss adjusting"],
    "Underwriting": ["risk pricing", "commercial property", "reinsurance", "actuarial models"],
    "Customer Service": [
        "complaint handling",
        "call coaching",
        "customer journeys",
        "accessibility",
    ],
    "Engineering": ["python", "django", "postgresql", "api design", "testing", "kubernetes"],
    "Data & Analytics": ["machine learning", "sql", "dashboards", "forecasting", "statistics"],
    "IT Operations": ["incident response", "linux", "networking", "observability"],
    "Finance": ["budgeting", "ifrs 17", "cost modelling", "procurement"],
    "Human Resources": ["onboarding", "mentoring", "learning design", "wellbeing"],
    "Legal & Compliance": ["gdpr", "regulatory reporting", "contract law", "conduct risk"],
    "Marketing": ["copywriting", "seo", "brand", "campaign analytics"],
    "Product": ["user research", "roadmapping", "service design", "prototyping"],
}

FIRST_NAMES = [
    "Aisha",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Femi",
    "Grace",
    "Hugo",
    "Imani",
    "Jonas",
    "Kai",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Arjun",
    "Bea",
    "Carlos",
    "Dina",
    "Erik",
    "Farah",
]
LAST_NAMES = [
    "Adams",
    "Bauer",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Mensah",
    "Novak",
    "Okafor",
    "Patel",
    "Quispe",
    "Rossi",
    "Silva",
    "Tanaka",
]
LOCATIONS = ["London", "Leeds", "Dublin", "Lisbon", "Remote", "Manchester", "Edinburgh"]

SHAPE = Purpose.Orientation.SHAPE_FUTURE
SPREAD = Purpose.Orientation.SPREAD_PRACTICE
PURPOSES = [
    ("Cut claim turnaround to two days", SHAPE),
    ("Price climate risk into every commercial policy", SHAPE),
    ("Make every customer letter readable at age twelve", SHAPE),
    ("Retire the mainframe policy system by 2028", SHAPE),
    ("Use machine learning responsibly in decisions about customers", SHAPE),
    ("Halve complaints that reach the ombudsman", SHAPE),
    ("Build products with customers, not for them", SHAPE),
    ("Make the organisation carbon neutral by 2030", SHAPE),
    ("Open our data to every team that needs it", SHAPE),
    ("Design services everyone can use", SHAPE),
    ("Detect fraud before the payout", SHAPE),
    ("Close the books in three days", SHAPE),
    ("Grow talent from within", SHAPE),
    ("Get new claims handlers productive in four weeks", SPREAD),
    ("Share what works in code review", SPREAD),
    ("Spread good incident response habits", SPREAD),
    ("Keep our SQL fast and correct", SPREAD),
    ("Help new managers find their feet", SPREAD),
    ("Write clearly and kindly", SPREAD),
    ("Run better meetings", SPREAD),
    ("Learn Python together", SPREAD),
    ("Share underwriting judgement across teams", SPREAD),
    ("Coach each other on difficult calls", SPREAD),
    ("Keep spreadsheets trustworthy", SPREAD),
    ("Share research findings across product teams", SPREAD),
]

KC = Community.Kind.KC
COP = Community.Kind.COP
S = Community.Stage


@dataclass(frozen=True)
class CommunitySpec:
    name: str
    kind: str
    summary: str
    stage: str
    purposes: tuple[int, ...]
    policy: str = Community.JoinPolicy.REQUEST
    status: str = Community.Status.ACTIVE
    size: int = 20
    cadence: str = ""
    formed_from: str = ""


COMMUNITIES = [
    CommunitySpec(
        "Claims Turnaround",
        KC,
        "Redesigning the claims journey end to end so customers are paid in two days.",
        S.COMMUNITY,
        (0, 10),
        size=45,
        cadence="Every other Tuesday",
        formed_from="Claims Handlers Circle",
    ),  # noqa: E501
    CommunitySpec(
        "Climate Risk Pricing",
        KC,
        "Bringing climate science into commercial underwriting.",
        S.COOPERATION,
        (1,),
        size=24,
        cadence="Monthly",
    ),  # noqa: E501
    CommunitySpec(
        "Plain Language",
        KC,
        "Rewriting every customer letter and web page so anyone can understand it.",
        S.COMMON_GOOD,
        (2, 9),
        policy=Community.JoinPolicy.OPEN,
        size=60,
        cadence="Fortnightly, Thursdays",
    ),  # noqa: E501
    CommunitySpec(
        "Mainframe Exit",
        KC,
        "Moving policy administration off the mainframe, one product line at a time.",
        S.COMMUNITY,
        (3,),
        policy=Community.JoinPolicy.INVITE,
        size=30,
        cadence="Weekly stand-up, Mondays",
    ),  # noqa: E501
    CommunitySpec(
        "Responsible AI",
        KC,
        "Principles, reviews and tooling for machine learning that affects customers.",
        S.COOPERATION,
        (4, 8),
        size=38,
        cadence="Monthly review board",
    ),  # noqa: E501
    CommunitySpec(
        "Ombudsman Zero",
        KC,
        "Finding and fixing the causes of complaints before they escalate.",
        S.SHARING,
        (5,),
        size=16,
    ),  # noqa: E501
    CommunitySpec(
        "Co-design Lab",
        KC,
        "Customers in the room for every new product.",
        S.COMMUNITY,
        (6, 9),
        policy=Community.JoinPolicy.OPEN,
        size=28,
        cadence="Every Wednesday afternoon",
    ),  # noqa: E501
    CommunitySpec(
        "Net Zero 2030",
        KC,
        "Our operations and investments on the path to carbon neutral.",
        S.COOPERATION,
        (7,),
        policy=Community.JoinPolicy.OPEN,
        size=52,
    ),  # noqa: E501
    CommunitySpec(
        "Open Data",
        KC,
        "A shared, documented data platform every team can use safely.",
        S.COMMUNITY,
        (8,),
        size=34,
        cadence="Monthly demo day",
        formed_from="SQL Clinic",
    ),  # noqa: E501
    CommunitySpec(
        "Accessible Services",
        KC,
        "Every service usable by everyone, whatever their ability.",
        S.COMMON_GOOD,
        (9, 2),
        size=26,
    ),  # noqa: E501
    CommunitySpec(
        "Fraud Before Payout",
        KC,
        "Catching fraud signals at first notice of loss.",
        S.COOPERATION,
        (10, 4),
        policy=Community.JoinPolicy.INVITE,
        size=18,
    ),  # noqa: E501
    CommunitySpec(
        "Fast Close",
        KC,
        "Shortening month-end from ten days to three.",
        S.SHARING,
        (11,),
        size=14,
        cadence="Month-end retros",
    ),  # noqa: E501
    CommunitySpec(
        "Grow Our Own",
        KC,
        "Apprenticeships and internal moves as the first way to fill roles.",
        S.COMMUNITY,
        (12,),
        policy=Community.JoinPolicy.OPEN,
        size=40,
    ),  # noqa: E501
    CommunitySpec(
        "Digital Claims Portal",
        KC,
        "A self-service portal for simple claims.",
        S.SHARING,
        (0, 6),
        size=12,
    ),  # noqa: E501
    CommunitySpec(
        "Pricing Transparency",
        KC,
        "Explaining every premium to the customer who pays it.",
        S.COOPERATION,
        (1, 2),
        size=10,
    ),  # noqa: E501
    CommunitySpec(
        "Cloud Platform",
        KC,
        "One platform for every team's services.",
        S.COMMUNITY,
        (3, 8),
        policy=Community.JoinPolicy.OPEN,
        size=48,
        cadence="Weekly office hours",
    ),  # noqa: E501
    CommunitySpec(
        "Customer Insight Council",
        KC,
        "Turning what customers tell us into decisions.",
        S.COOPERATION,
        (6, 5),
        policy=Community.JoinPolicy.INVITE,
        size=15,
    ),  # noqa: E501
    CommunitySpec(
        "Green Claims",
        KC,
        "Repair over replace: sustainable claims settlement.",
        S.SHARING,
        (7, 0),
        size=11,
    ),  # noqa: E501
    CommunitySpec(
        "Underwriting Workbench",
        KC,
        "Replacing spreadsheets with a shared underwriting workbench.",
        S.SHARING,
        (1, 3),
        status=Community.Status.DORMANT,
        size=9,
    ),  # noqa: E501
    CommunitySpec(
        "Legacy Reporting Replacement",
        KC,
        "Replaced the old reporting suite (finished 2025).",
        S.COMMON_GOOD,
        (8,),
        status=Community.Status.ARCHIVED,
        size=13,
    ),  # noqa: E501
    CommunitySpec(
        "Chatbot Pilot",
        KC,
        "A 2024 pilot of a customer chatbot, closed after evaluation.",
        S.COOPERATION,
        (6,),
        status=Community.Status.ARCHIVED,
        size=8,
    ),  # noqa: E501
    CommunitySpec(
        "Hybrid Work Charter",
        KC,
        "How we work together across offices and homes.",
        S.COMMUNITY,
        (12, 9),
        size=22,
    ),  # noqa: E501
    CommunitySpec(
        "Claims Handlers Circle",
        COP,
        "Claims handlers swapping tips on tricky cases and new-starter questions.",
        S.COMMUNITY,
        (13, 22),
        size=42,
        cadence="Friday lunch",
    ),  # noqa: E501
    CommunitySpec(
        "Code Review Guild",
        COP,
        "Engineers sharing how they review code well and kindly.",
        S.COOPERATION,
        (14, 20),
        size=36,
        cadence="Thursday mornings",
    ),  # noqa: E501
    CommunitySpec(
        "Incident Responders",
        COP,
        "People who get paged, learning from every incident.",
        S.COMMUNITY,
        (15,),
        size=25,
        cadence="After every major incident",
    ),  # noqa: E501
    CommunitySpec(
        "SQL Clinic",
        COP,
        "Bring a slow or puzzling query; leave with a better one.",
        S.COOPERATION,
        (16,),
        size=33,
        cadence="Drop-in, Tuesdays",
    ),  # noqa: E501
    CommunitySpec(
        "New Managers Network",
        COP,
        "First-time managers comparing notes.",
        S.SHARING,
        (17,),
        size=21,
    ),  # noqa: E501
    CommunitySpec(
        "Writers' Room",
        COP,
        "Anyone who writes for customers, improving together.",
        S.COMMUNITY,
        (18, 2),
        size=27,
    ),  # noqa: E501
    CommunitySpec(
        "Meeting Makers", COP, "Facilitators sharing formats that work.", S.SHARING, (19,), size=12
    ),  # noqa: E501
    CommunitySpec(
        "Python Learners",
        COP,
        "Analysts and engineers learning Python side by side.",
        S.COOPERATION,
        (20, 16),
        size=50,
        cadence="Weekly study group",
    ),  # noqa: E501
    CommunitySpec(
        "Underwriters' Roundtable",
        COP,
        "Underwriters discussing unusual risks.",
        S.COMMUNITY,
        (21,),
        size=19,
    ),  # noqa: E501
    CommunitySpec(
        "Call Coaching Circle",
        COP,
        "Advisers coaching each other on difficult calls.",
        S.COMMON_GOOD,
        (22,),
        size=31,
    ),  # noqa: E501
    CommunitySpec(
        "Spreadsheet Sanity",
        COP,
        "Finance and actuarial people keeping spreadsheets honest.",
        S.SHARING,
        (23,),
        size=17,
    ),  # noqa: E501
    CommunitySpec(
        "Research Share-out",
        COP,
        "UX researchers and product people sharing findings.",
        S.COOPERATION,
        (24, 6),
        size=20,
    ),  # noqa: E501
    CommunitySpec(
        "Accessibility Champions",
        COP,
        "People testing our services with assistive technology.",
        S.COMMON_GOOD,
        (9,),
        size=16,
    ),  # noqa: E501
    CommunitySpec(
        "Mentoring Exchange",
        COP,
        "Informal mentoring across departments.",
        S.COMMUNITY,
        (12, 17),
        size=29,
    ),  # noqa: E501
    CommunitySpec(
        "Linux Lovers",
        COP,
        "Sysadmins and engineers sharing shell tricks.",
        S.SHARING,
        (15,),
        size=14,
    ),  # noqa: E501
    CommunitySpec(
        "Data Viz Club", COP, "Making charts people understand.", S.COOPERATION, (16, 24), size=22
    ),  # noqa: E501
    CommunitySpec(
        "Regulation Readers",
        COP,
        "Reading new regulation together, once a month.",
        S.SHARING,
        (18,),
        status=Community.Status.DORMANT,
        size=8,
    ),  # noqa: E501
    CommunitySpec(
        "Fax Machine Fans",
        COP,
        "The last users of the fax gateway (retired 2024).",
        S.SHARING,
        (19,),
        status=Community.Status.ARCHIVED,
        size=5,
    ),  # noqa: E501
]

DEMO_ACCOUNTS = {
    # username: (display name, job title, department)
    "admin": ("Ada Admin", "Directory administrator", "Human Resources"),
    "steward": ("Sasha Steward", "Head of claims transformation", "Claims Operations"),
    "staff": ("Sam Staff", "Claims handler", "Claims Operations"),
}
# The demo steward leads these; the demo staff member has a place in each state.
STEWARD_OF = ["Claims Turnaround", "Plain Language", "Ombudsman Zero"]
STAFF_ACTIVE_IN = ["Plain Language", "Claims Handlers Circle", "Net Zero 2030"]
STAFF_REQUESTED_IN = ["Climate Risk Pricing"]
STAFF_INVITED_TO = ["Mainframe Exit"]


HOME_DEPARTMENT_WORDS = [
    ("claim", "Claims Operations"),
    ("underwrit", "Underwriting"),
    ("pricing", "Underwriting"),
    ("climate", "Underwriting"),
    ("ombudsman", "Customer Service"),
    ("call", "Customer Service"),
    ("plain", "Customer Service"),
    ("writer", "Customer Service"),
    ("customer", "Customer Service"),
    ("code", "Engineering"),
    ("python", "Engineering"),
    ("mainframe", "Engineering"),
    ("cloud", "IT Operations"),
    ("incident", "IT Operations"),
    ("linux", "IT Operations"),
    ("fax", "IT Operations"),
    ("data", "Data & Analytics"),
    ("sql", "Data & Analytics"),
    ("ai", "Data & Analytics"),
    ("fraud", "Data & Analytics"),
    ("reporting", "Data & Analytics"),
    ("close", "Finance"),
    ("spreadsheet", "Finance"),
    ("net zero", "Finance"),
    ("grow", "Human Resources"),
    ("mentor", "Human Resources"),
    ("manager", "Human Resources"),
    ("hybrid", "Human Resources"),
    ("meeting", "Human Resources"),
    ("regulation", "Legal & Compliance"),
    ("research", "Product"),
    ("design", "Product"),
    ("access", "Product"),
    ("chatbot", "Marketing"),
]


def home_department(spec: CommunitySpec) -> str:
    text = spec.name.lower()
    words = set(text.split())
    for word, department in HOME_DEPARTMENT_WORDS:
        if (word in words) if len(word) <= 3 else (word in text):
            return department
    return list(DEPARTMENTS)[len(spec.name) % len(DEPARTMENTS)]


STAGE_NOTES = {
    "cooperation": "We now share systematically: a shared backlog and a regular slot.",
    "community": "Organised cooperation: roles, a charter and a way to settle disagreements.",
    "common_good": "Our work now serves the whole organisation, guided by what we learned.",
}

PROPOSALS = [
    ("Claims Automation", "Automating simple claims end to end, safely.", 0),
    ("Customer Data Ethics", "Agreeing how we use customer data before regulators ask.", 4),
]
