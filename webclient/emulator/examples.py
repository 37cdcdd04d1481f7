"""Realistic payloads a Kore bot sends: one per template_type, and the demo Digital Form.

The emulator's demo bot answers `show <template_type>` and `form` with these; the rendering
gallery and tests render them. Shapes follow Kore's Web SDK template documentation
(Koredotcom/web-kore-sdk, docs/templates/*) and the Digital Forms `formDef` layout.
Keys equal to a template_type hold that type; extra keys (`feedbackTemplate_nps`…) are
variants; `image`, `video`, `audio`, `link`, `message_video`, `text` and `error` are
non-template messages.
"""

from __future__ import annotations

from typing import Any

_IMG = "https://images.example-bank.com/demo"


def _template(payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "template", "payload": payload}


TEMPLATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "button": _template(
        {
            "template_type": "button",
            "text": "What would you like to do?",
            "buttons": [
                {"type": "postback", "title": "Check balance", "payload": "CHECK_BALANCE"},
                {"type": "postback", "title": "Transfer funds", "payload": "TRANSFER_FUNDS"},
                {"type": "web_url", "title": "Open website", "url": "https://kore.ai"},
            ],
        }
    ),
    "quick_replies": _template(
        {
            "template_type": "quick_replies",
            "text": "Which account should I use?",
            "quick_replies": [
                {"content_type": "text", "title": "Checking", "payload": "ACCOUNT_CHECKING"},
                {"content_type": "text", "title": "Savings", "payload": "ACCOUNT_SAVINGS"},
                {
                    "content_type": "text",
                    "title": "Credit card",
                    "payload": "ACCOUNT_CARD",
                    "image_url": f"{_IMG}/card-icon.png",
                },
            ],
        }
    ),
    "list": _template(
        {
            "template_type": "list",
            "elements": [
                {
                    "title": "Everyday Checking",
                    "image_url": f"{_IMG}/checking.png",
                    "subtitle": "No monthly fee with direct deposit",
                    "default_action": {
                        "type": "web_url",
                        "url": "https://www.example-bank.com/checking",
                    },
                    "buttons": [
                        {"type": "postback", "title": "Open account", "payload": "OPEN_CHECKING"}
                    ],
                },
                {
                    "title": "High-Yield Savings",
                    "image_url": f"{_IMG}/savings.png",
                    "subtitle": "*4.10% APY* on all balances",
                    "default_action": {
                        "type": "web_url",
                        "url": "https://www.example-bank.com/savings",
                    },
                },
                {
                    "title": "Certificates of Deposit",
                    "image_url": f"{_IMG}/cd.png",
                    "subtitle": "Lock in a rate for 6 to 60 months",
                    "default_action": {"type": "web_url", "url": "https://www.example-bank.com/cd"},
                },
            ],
            "buttons": [{"title": "View more", "type": "postback", "payload": "MORE_ACCOUNTS"}],
        }
    ),
    "carousel": _template(
        {
            "template_type": "carousel",
            "elements": [
                {
                    "title": "Travel Rewards Card",
                    "image_url": f"{_IMG}/travel-card.jpg",
                    "subtitle": "3x points on flights and hotels",
                    "default_action": {
                        "type": "web_url",
                        "url": "https://www.example-bank.com/cards/travel",
                    },
                    "buttons": [
                        {"type": "postback", "title": "Apply now", "payload": "APPLY_TRAVEL"},
                        {
                            "type": "web_url",
                            "title": "Details",
                            "url": "https://www.example-bank.com/cards/travel",
                        },
                    ],
                },
                {
                    "title": "Cash Back Card",
                    "image_url": f"{_IMG}/cashback-card.jpg",
                    "subtitle": "2% back on everything",
                    "buttons": [
                        {"type": "postback", "title": "Apply now", "payload": "APPLY_CASHBACK"}
                    ],
                },
                {
                    "title": "Student Card",
                    "image_url": f"{_IMG}/student-card.jpg",
                    "subtitle": "Build credit with no annual fee",
                    "buttons": [
                        {"type": "postback", "title": "Apply now", "payload": "APPLY_STUDENT"}
                    ],
                },
            ],
        }
    ),
    "table": _template(
        {
            "template_type": "table",
            "text": "Recent transactions",
            "columns": [["Date"], ["Description"], ["Amount", "right"]],
            "table_design": "regular",
            "speech_hint": "Here are your last three transactions",
            "elements": [
                {"Values": ["2026-11-18", "Coffee Corner", "-$4.50"]},
                {"Values": ["2026-11-17", "Salary ACME Corp", "+$3,200.00"]},
                {"Values": ["2026-11-15", "City Utilities", "-$86.12"]},
            ],
        }
    ),
    "mini_table": _template(
        {
            "template_type": "mini_table",
            "layout": "horizontal",
            "text": "Account details",
            "speech_hint": "Here are your account details",
            "elements": [
                {
                    "primary": [["Current Accounts"], ["300", "right"]],
                    "additional": [["CA00001", "150"], ["CA00123", "50"], ["CA23423", "100"]],
                },
                {
                    "primary": [["Savings Accounts"], ["200", "right"]],
                    "additional": [["SA33001", "75"], ["SA67345", "125"]],
                },
            ],
        }
    ),
    "piechart": _template(
        {
            "template_type": "piechart",
            "text": "Travel expenses this month",
            "pie_type": "regular",
            "speech_hint": "You spent $2126.60 on travel. Here is the breakup.",
            "elements": [
                {"title": "Airlines", "value": "1234.0", "displayValue": "$ 1,234"},
                {"title": "Hotels", "value": "568.10", "displayValue": "$ 568"},
                {"title": "Food", "value": "324.50", "displayValue": "$ 324"},
            ],
        }
    ),
    "barchart": _template(
        {
            "template_type": "barchart",
            "text": "Monthly spending by card",
            "direction": "vertical",
            "stacked": False,
            "auto_adjust_X_axis": "no",
            "X_axis": ["Aug", "Sep", "Oct", "Nov"],
            "speech_hint": "Here is your spending report",
            "elements": [
                {
                    "title": "Travel card",
                    "values": [420, 310, 515, 280],
                    "displayValues": ["$420", "$310", "$515", "$280"],
                },
                {
                    "title": "Cash back card",
                    "values": [180, 240, 205, 390],
                    "displayValues": ["$180", "$240", "$205", "$390"],
                },
            ],
        }
    ),
    "barchart_horizontal": _template(
        {
            "template_type": "barchart",
            "text": "Savings goals reached",
            "direction": "horizontal",
            "stacked": True,
            "X_axis": ["Holiday", "New car", "Emergency fund"],
            "elements": [
                {"title": "Saved", "values": [1200, 4500, 3000]},
                {"title": "Still to save", "values": [300, 7500, 2000]},
            ],
        }
    ),
    "linechart": _template(
        {
            "template_type": "linechart",
            "text": "Savings balance trend",
            "X_axis": ["Jul", "Aug", "Sep", "Oct", "Nov"],
            "Auto_adjust_X_axis": "yes",
            "speech_hint": "Your savings grew every month",
            "headers": [],
            "elements": [
                {
                    "title": "High-Yield Savings",
                    "values": [5200, 5650, 6100, 6420, 7010],
                    "displayValues": ["$5,200", "$5,650", "$6,100", "$6,420", "$7,010"],
                },
                {
                    "title": "Goal",
                    "values": [5000, 5500, 6000, 6500, 7000],
                    "displayValues": ["$5,000", "$5,500", "$6,000", "$6,500", "$7,000"],
                },
            ],
        }
    ),
    "dropdown_template": _template(
        {
            "template_type": "dropdown_template",
            "heading": "Which currency do you want to buy?",
            "elements": [
                {"title": "United Arab Emirates Dirham", "value": "AED"},
                {"title": "Australian Dollar", "value": "AUD"},
                {"title": "Canadian Dollar", "value": "CAD"},
                {"title": "Swiss Franc", "value": "CHF"},
                {"title": "Euro", "value": "EUR"},
            ],
        }
    ),
    "multi_select": _template(
        {
            "template_type": "multi_select",
            "elements": [
                {"title": "Balance alerts", "value": "alert_balance"},
                {"title": "Large purchase alerts", "value": "alert_purchase"},
                {"title": "Login alerts", "value": "alert_login"},
            ],
            "buttons": [{"title": "Done", "type": "postback", "payload": "payload"}],
        }
    ),
    "advanced_multi_select": _template(
        {
            "template_type": "advanced_multi_select",
            "heading": "Please select the services you are interested in",
            "description": "You can pick more than one",
            "sliderView": False,
            "showViewMore": False,
            "limit": 3,
            "elements": [
                {
                    "collectionTitle": "Accounts",
                    "collection": [
                        {
                            "title": "Checking",
                            "description": "Everyday banking",
                            "value": "checking",
                            "image_url": f"{_IMG}/checking.png",
                        },
                        {
                            "title": "Savings",
                            "description": "Earn interest",
                            "value": "savings",
                            "image_url": f"{_IMG}/savings.png",
                        },
                    ],
                },
                {
                    "collectionTitle": "Loans",
                    "collection": [
                        {
                            "title": "Mortgage",
                            "description": "Fixed and adjustable rates",
                            "value": "mortgage",
                            "image_url": f"{_IMG}/mortgage.png",
                        },
                        {
                            "title": "Auto loan",
                            "description": "New and used vehicles",
                            "value": "auto_loan",
                            "image_url": f"{_IMG}/auto.png",
                        },
                    ],
                },
            ],
            "buttons": [{"title": "Done", "type": "postback", "payload": "payload"}],
        }
    ),
    "like_dislike": _template(
        {"template_type": "like_dislike", "text": "Was this answer helpful?"}
    ),
    "feedbackTemplate": _template(
        {
            "template_type": "feedbackTemplate",
            "text": "Rate this chat session",
            "view": "star",
            "sliderView": False,
            "starArrays": [{"starId": i, "value": i} for i in range(5, 0, -1)],
            "smileyArrays": [],
            "messageTodisplay": "Glad you liked the experience. Thanks!",
        }
    ),
    "feedbackTemplate_csat": _template(
        {
            "template_type": "feedbackTemplate",
            "text": "How satisfied are you with our service?",
            "view": "CSAT",
            "sliderView": False,
            "starArrays": [],
            "smileyArrays": [
                {"smileyId": i + 1, "value": label, "reviewText": label}
                for i, label in enumerate(
                    [
                        "Highly Unsatisfied",
                        "Unsatisfied",
                        "Average",
                        "Satisfied",
                        "Highly Satisfied",
                    ]
                )
            ],
            "messageTodisplay": "Glad you liked the experience. Thanks!",
        }
    ),
    "feedbackTemplate_nps": _template(
        {
            "template_type": "feedbackTemplate",
            "text": "On a scale of 0-10, how likely are you to recommend us to a friend?",
            "view": "NPS",
            "sliderView": False,
            "starArrays": [],
            "numbersArrays": [
                {
                    "numberId": i,
                    "value": str(i),
                    "color": "#DD3646" if i < 7 else "#FB8460" if i < 9 else "#28A745",
                }
                for i in range(11)
            ],
            "messageTodisplay": "Glad you liked the experience. Thanks!",
        }
    ),
    "feedbackTemplate_thumbs": _template(
        {
            "template_type": "feedbackTemplate",
            "text": "How likely are you to use this assistant again?",
            "view": "ThumbsUpDown",
            "sliderView": False,
            "starArrays": [],
            "thumpsUpDownArrays": [
                {"thumpUpId": 0, "value": "Extremely Unlikely", "reviewText": "Extremely Unlikely"},
                {"thumpUpId": 1, "value": "Extremely Likely", "reviewText": "Extremely Likely"},
            ],
            "messageTodisplay": "Glad you liked the experience. Thanks!",
        }
    ),
    "form_template": _template(
        {
            "template_type": "form_template",
            "heading": "Please confirm with your PIN",
            "formFields": [
                {
                    "type": "password",
                    "label": "Enter PIN",
                    "placeholder": "4-digit PIN",
                    "fieldButton": {"title": "Ok"},
                }
            ],
        }
    ),
    "listView": _template(
        {
            "template_type": "listView",
            "text": "Here are your recent transactions",
            "heading": "Card activity",
            "seeMore": True,
            "moreCount": 3,
            "buttons": [{"title": "See all", "type": "postback", "payload": "ALL_TRANSACTIONS"}],
            "elements": [
                {
                    "title": "Amazon",
                    "image_url": f"{_IMG}/amazon.png",
                    "subtitle": "17 Monday June",
                    "value": "$35.88",
                    "default_action": {"title": "AmazonOrder", "type": "postback"},
                },
                {
                    "title": "Timex",
                    "image_url": f"{_IMG}/timex.png",
                    "subtitle": "20 Monday June",
                    "value": "$35.88",
                    "default_action": {"title": "TimexOrder", "type": "postback"},
                },
                {
                    "title": "Fuel",
                    "image_url": f"{_IMG}/fuel.png",
                    "subtitle": "12 Transactions",
                    "value": "$120.40",
                    "default_action": {"title": "FuelTransactions", "type": "postback"},
                },
            ],
            "moreData": {
                "Tab1": [
                    {
                        "title": "Swiggy",
                        "image_url": f"{_IMG}/swiggy.png",
                        "subtitle": "17 Monday June",
                        "value": "$12.10",
                        "default_action": {"title": "SwiggyOrder", "type": "postback"},
                    }
                ],
                "Tab2": [
                    {
                        "title": "Shopping",
                        "image_url": f"{_IMG}/shopping.png",
                        "subtitle": "17 Monday June",
                        "value": "$88.00",
                        "default_action": {"title": "ShoppingOrder", "type": "postback"},
                    }
                ],
            },
        }
    ),
    "advancedListTemplate": _template(
        {
            "template_type": "advancedListTemplate",
            "title": "Upcoming meetings",
            "description": "Your advisor appointments this week",
            "isSortEnabled": False,
            "isSearchEnabled": False,
            "isButtonAvailable": False,
            "listViewType": "default",
            "listItems": [
                {
                    "title": "Retirement planning",
                    "description": "With Dana Whitfield, senior advisor",
                    "icon": f"{_IMG}/calendar.png",
                    "view": "default",
                    "isCollapsed": False,
                    "textInformation": [
                        {"title": "Oct 9, 9:00am - 9:30am"},
                        {
                            "title": "Join on WebEx",
                            "type": "web_url",
                            "url": "https://webex.example.com/j/123",
                        },
                    ],
                    "buttons": [
                        {"type": "postback", "title": "Reschedule", "payload": "RESCHEDULE_123"},
                        {"type": "postback", "title": "Cancel", "payload": "CANCEL_123"},
                    ],
                    "headerOptions": [{"type": "text", "value": "30 min"}],
                },
                {
                    "title": "Mortgage pre-approval",
                    "description": "Pick the documents you can bring",
                    "icon": f"{_IMG}/house.png",
                    "view": "options",
                    "optionsData": [
                        {"id": "1", "type": "checkbox", "label": "Pay stubs", "value": "paystubs"},
                        {"id": "2", "type": "checkbox", "label": "Tax returns", "value": "tax"},
                    ],
                    "buttons": [
                        {
                            "type": "postback",
                            "btnType": "confirm",
                            "title": "Confirm",
                            "payload": "DOCS",
                        },
                        {
                            "type": "postback",
                            "btnType": "cancel",
                            "title": "Cancel",
                            "payload": "NO_DOCS",
                        },
                    ],
                },
            ],
        }
    ),
    "cardTemplate": _template(
        {
            "template_type": "cardTemplate",
            "cards": [
                {
                    "cardHeading": {"title": "Dispute a transaction"},
                    "cardDescription": [
                        {"title": "Oct 9, Coffee Corner, $4.50"},
                        {"title": "Charged twice"},
                    ],
                    "buttons": [
                        {
                            "title": "Show transactions",
                            "type": "postback",
                            "payload": "SHOW_TRANSACTIONS",
                        }
                    ],
                    "type": "action",
                },
                {
                    "cardHeading": {
                        "title": "Freeze my card",
                        "description": "Temporarily block new purchases",
                    },
                    "type": "postback",
                    "default_action": {
                        "title": "Freeze my card",
                        "payload": "FREEZE_CARD",
                    },
                },
            ],
        }
    ),
    "tableList": _template(
        {
            "template_type": "tableList",
            "title": "Exchange rates",
            "description": "Indicative rates, updated hourly",
            "headerOptions": {"type": "text", "text": "USD base"},
            "elements": [
                {
                    "sectionHeader": "Major currencies",
                    "sectionHeaderDesc": "Buy rates",
                    "rowItems": [
                        {
                            "title": {
                                "type": "text",
                                "text": {"title": "Euro", "subtitle": "EUR"},
                                "image": {
                                    "image_type": "image",
                                    "image_src": f"{_IMG}/eur.png",
                                    "radius": 10,
                                    "size": "medium",
                                },
                            },
                            "value": {"type": "text", "text": "0.92", "layout": {"align": "right"}},
                        },
                        {
                            "title": {
                                "type": "url",
                                "url": {
                                    "link": "https://www.example-bank.com/fx/gbp",
                                    "title": "British Pound",
                                    "subtitle": "GBP",
                                },
                            },
                            "value": {
                                "type": "url",
                                "url": {
                                    "link": "https://www.example-bank.com/fx/gbp",
                                    "title": "0.79",
                                },
                            },
                        },
                    ],
                }
            ],
        }
    ),
    "dateTemplate": _template(
        {
            "template_type": "dateTemplate",
            "text": "display",
            "view_type": "inline",
            "title": "Appointment date",
            "text_message": "Which day suits you?",
            "format": "MM-DD-YYYY",
            "startDate": "01-05-2026",
            "endDate": "12-31-2027",
        }
    ),
    "daterange": _template(
        {
            "template_type": "daterange",
            "text": "display",
            "title": "Statement period",
            "text_message": "Choose the period for your statement",
            "format": "DD-MM-YYYY",
            "startDate": "01-01-2024",
            "endDate": "31-12-2026",
        }
    ),
    "clockTemplate": _template(
        {
            "template_type": "clockTemplate",
            "text": "display",
            "title": "What time should we call you?",
        }
    ),
    "radioOptionTemplate": _template(
        {
            "template_type": "radioOptionTemplate",
            "heading": "Pay from which account?",
            "radioOptions": [
                {
                    "title": "Everyday Checking",
                    "value": "•••• 6789",
                    "postback": {"title": "Everyday Checking", "value": "ACCOUNT_6789"},
                },
                {
                    "title": "High-Yield Savings",
                    "value": "•••• 9876",
                    "postback": {"title": "High-Yield Savings", "value": "ACCOUNT_9876"},
                },
            ],
        }
    ),
    "live_agent": _template(
        {
            "template_type": "live_agent",
            "text": "You are now connected to *Maria* from our support team.",
        }
    ),
    "wait_for_response": _template({"template_type": "wait_for_response"}),
    "attachment": _template(
        {
            "template_type": "attachment",
            "text": "Here is your statement for October.",
            "elements": [
                {
                    "fileName": "statement-2026-10.pdf",
                    "fileType": "pdf",
                    "fileUrl": "https://www.example-bank.com/statements/2026-10.pdf",
                }
            ],
        }
    ),
    "image": {"type": "image", "payload": {"url": f"{_IMG}/branch.jpg", "text": "Our new branch"}},
    "video": {"type": "video", "payload": {"url": f"{_IMG}/how-to-deposit.mp4"}},
    "audio": {"type": "audio", "payload": {"url": f"{_IMG}/welcome.mp3"}},
    "link": {
        "type": "link",
        "payload": {"url": "https://www.example-bank.com/fees.pdf", "title": "Fee schedule"},
    },
    "message_video": {
        "type": "message",
        "payload": {"text": "How to deposit a cheque", "videoUrl": f"{_IMG}/how-to-deposit.mp4"},
    },
    "text": {
        "text": "Your balance is *$1,240.50*.\n_Pending_ card payments: ~~$0~~ $42.\n"
        "See [your statement](https://www.example-bank.com/statement)."
    },
    "error": {
        "type": "error",
        "payload": {
            "text": "We couldn't reach the payments service. Please try again.",
            "color": "red",
        },
    },
}

_FORM_ID = "frm-5a0cf4f1-2b8e-4d55-9d3c-6f1e2a7b9c01"


def _fct(n: int) -> str:
    return f"fct-5a0cf4f1-2b8e-4d55-9d3c-{n:012d}"


def _component(n: int, kind: str, name: str, display: str, **meta: Any) -> dict[str, Any]:
    return {
        "_id": _fct(n),
        "name": name,
        "type": kind,
        "metaData": {
            "type": kind,
            "key": name,
            "name": name,
            "displayName": display,
            "isVisible": True,
            "required": False,
            "disabled": False,
            **meta,
        },
    }


DEMO_FORM: dict[str, Any] = {
    "formDef": {
        "_id": _FORM_ID,
        "name": "loan_application",
        "displayName": "Personal loan application",
        "type": "regular",
        "components": [
            _component(
                1, "label", "intro", "Tell us a little about yourself and the loan you need."
            ),
            {
                **_component(2, "section", "applicant", "Applicant"),
                "components": [
                    _component(
                        3,
                        "textField",
                        "full_name",
                        "Full name",
                        placeholder="Jane Doe",
                        required=True,
                        toolTip="As printed on your ID",
                        validations={
                            "validationType": "simple",
                            "rules": [
                                {"operator": "minLength", "value": 2},
                                {"operator": "maxLength", "value": 80},
                            ],
                        },
                    ),
                    _component(
                        4,
                        "email",
                        "email",
                        "Email",
                        placeholder="jane@example.com",
                        required=True,
                    ),
                    _component(
                        5, "phoneNumber", "phone", "Mobile phone", placeholder="+1 555 0100"
                    ),
                    _component(
                        6,
                        "date",
                        "birth_date",
                        "Date of birth",
                        required=True,
                        validations={
                            "validationType": "simple",
                            "rules": [
                                {
                                    "operator": "before",
                                    "value": "2008-01-01",
                                    "errorMsg": "You must be at least 18 years old.",
                                }
                            ],
                        },
                    ),
                    _component(
                        7, "address", "address", "Home address", placeholder="Street, city, ZIP"
                    ),
                    _component(8, "url", "website", "Business website (optional)"),
                ],
            },
            {
                **_component(9, "section", "loan", "Loan"),
                "components": [
                    _component(
                        10,
                        "number",
                        "amount",
                        "Amount (USD)",
                        required=True,
                        validations={
                            "validationType": "simple",
                            "rules": [{"operator": "between", "value": [1000, 50000]}],
                            "errorMsg": "We lend between $1,000 and $50,000.",
                        },
                    ),
                    _component(
                        11,
                        "rangeSlider",
                        "term_months",
                        "Term (months)",
                        minValue=6,
                        maxValue=60,
                        step=6,
                    ),
                    _component(
                        12,
                        "radio",
                        "purpose",
                        "Purpose",
                        required=True,
                        values=[
                            {"value": "Home improvement", "selected": False},
                            {"value": "Car", "selected": True},
                            {"value": "Debt consolidation", "selected": False},
                        ],
                    ),
                    _component(
                        13,
                        "dropdown",
                        "employment",
                        "Employment status",
                        placeholder="Select a status",
                        required=True,
                        values=[
                            {"value": "Employed", "selected": False},
                            {"value": "Self-employed", "selected": False},
                            {"value": "Retired", "selected": False},
                        ],
                    ),
                    _component(
                        14,
                        "number",
                        "monthly_income",
                        "Monthly income (USD)",
                        validations={
                            "validationType": "advanced",
                            "combinator": "and",
                            "rules": [
                                {"operator": "greaterThan", "value": 0},
                                {
                                    "operator": "greaterThan",
                                    "valueType": "field",
                                    "field": "monthly_rent",
                                    "errorMsg": "Income must be higher than your rent.",
                                },
                            ],
                        },
                    ),
                    _component(15, "number", "monthly_rent", "Monthly rent (USD)"),
                    _component(
                        16,
                        "textArea",
                        "notes",
                        "Anything else we should know?",
                        validations={
                            "validationType": "simple",
                            "rules": [{"operator": "notContains", "value": "http"}],
                            "errorMsg": "Please don't paste links here.",
                        },
                    ),
                ],
            },
            _component(
                17,
                "textField",
                "promo_code",
                "Promo code",
                placeholder="ABC-1234",
                validations={
                    "validationType": "simple",
                    "rules": [
                        {
                            "operator": "regex",
                            "value": "^[A-Z]{3}-[0-9]{4}$",
                            "errorMsg": "Promo codes look like ABC-1234.",
                        }
                    ],
                },
            ),
            _component(18, "password", "pin", "Online banking PIN", required=True, minLength=4),
            _component(
                19,
                "checkbox",
                "contact_by",
                "Contact me by",
                values=[
                    {"value": "Email", "selected": True},
                    {"value": "SMS", "selected": False},
                    {"value": "Phone", "selected": False},
                ],
            ),
            _component(20, "toggle", "newsletter", "Send me the monthly newsletter"),
            _component(21, "textField", "branch_code", "Branch", disabled=True),
            _component(22, "textField", "campaign", "Campaign", isVisible=False),
            _component(
                23,
                "note",
                "consent_note",
                "By submitting you agree to a soft credit check. See our [privacy policy](https://www.example-bank.com/privacy).",
            ),
            _component(24, "button", "submit", "Submit application", buttonAction="submit"),
            _component(25, "button", "cancel", "Cancel", buttonAction="cancel"),
        ],
    },
    "formInitialization": {
        "valueMap": {
            "full_name": "Jane Doe",
            "branch_code": "NYC-042",
            "campaign": "autumn-2026",
            "term_months": 24,
        }
    },
}
