"""The word lists the demo data is drawn from: names, places, companies, jobs and activity.

Malaysian-flavoured on purpose: Malay names with bin/binti, Chinese names family-name first,
Indian names with a/l and a/p, East Malaysian and Eurasian names (some accented), cities with
their states and postcode ranges, and a share of Singapore and Indonesia. Weights are rough
shares, not census figures. Every domain is under `.example` (RFC 2606), so no demo address or
website can ever reach a real person or company.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- people ----------------------------------------------------------------------------------

MALAY_MALE = (
    "Ahmad", "Muhammad", "Mohd Hafiz", "Amir", "Faiz", "Syafiq", "Azman", "Hakim", "Irfan",
    "Danial", "Aiman", "Haziq", "Zulkifli", "Ismail", "Khairul", "Firdaus", "Razif", "Shahrul",
    "Iskandar", "Adam", "Hariz", "Luqman", "Nazri", "Rizal", "Fadzli", "Azlan", "Ikhwan",
)  # fmt: skip
MALAY_FEMALE = (
    "Nurul Aisyah", "Siti Nur", "Nur Fatihah", "Aina", "Farah", "Aisyah", "Liyana", "Nabila",
    "Zarina", "Hidayah", "Syazwani", "Nor Azlina", "Amira", "Balqis", "Hanis", "Izzati",
    "Sofea", "Nadia", "Safiya", "Athirah", "Wan Nur", "Siti Hajar", "Norhayati", "Rozita",
)  # fmt: skip
MALAY_FATHER = (
    "Ahmad", "Abdullah", "Ismail", "Hassan", "Ibrahim", "Yusof", "Rahman", "Othman", "Hamid",
    "Aziz", "Salleh", "Osman", "Razak", "Jaafar", "Mansor", "Zakaria", "Kassim", "Mahmud",
    "Sulaiman", "Harun", "Ali", "Omar", "Latif", "Bakar",
)  # fmt: skip
CHINESE_FAMILY = (
    "Tan", "Lim", "Lee", "Wong", "Ng", "Ong", "Chong", "Chan", "Teh", "Goh", "Yap", "Khoo",
    "Loh", "Cheah", "Lau", "Chin", "Foo", "Low", "Ho", "Leong", "Chua", "Koh", "Teo", "Yeoh",
    "Liew", "Soo", "Kok", "Heng", "Tay", "Chew",
)  # fmt: skip
CHINESE_MALE = (
    "Wei Jie", "Kah Wai", "Jun Hao", "Zhi Hao", "Chee Keong", "Boon Huat", "Kok Leong",
    "Wai Kit", "Yong Sheng", "Ah Kow", "Jia Hui", "Chun Wei", "Kian Meng", "Hong Wei",
    "Seng Hock", "Teck Soon", "Yi Xiang", "Ming Hui",
)  # fmt: skip
CHINESE_FEMALE = (
    "Mei Ling", "Siew Mei", "Xin Yi", "Hui Min", "Li Ting", "Pei Shan", "Sook Yee", "Wan Ting",
    "Jia Yi", "Mei Fong", "Yee Ling", "Shu Fen", "Kar Mun", "Poh Lin", "Ai Ling", "Su Lin",
)  # fmt: skip
# Many Malaysian Chinese also go by an English given name ("Jason Tan Wei Jie").
ENGLISH_MALE = ("Jason", "Kelvin", "Alvin", "Daniel", "Ryan", "Eric", "Marcus", "Vincent")
ENGLISH_FEMALE = ("Michelle", "Jasmine", "Rachel", "Joanne", "Cheryl", "Vivian", "Grace")
INDIAN_MALE = (
    "Rajesh", "Kumar", "Suresh", "Ganesh", "Arun", "Vijay", "Prakash", "Ravi", "Muthu",
    "Karthik", "Saravanan", "Dinesh", "Ramesh", "Kavin", "Thinesh", "Logan", "Vikram",
)  # fmt: skip
INDIAN_FEMALE = (
    "Priya", "Kavitha", "Devi", "Lakshmi", "Anitha", "Shalini", "Revathi", "Deepa", "Malar",
    "Sangeetha", "Thivya", "Nisha", "Vani", "Kalai", "Meena",
)  # fmt: skip
INDIAN_FATHER = (
    "Kumar", "Raj", "Subramaniam", "Krishnan", "Muniandy", "Govindasamy", "Ramasamy",
    "Arumugam", "Nair", "Pillai", "Maniam", "Sivalingam", "Perumal", "Rajoo", "Selvaraj",
)  # fmt: skip
# East Malaysian (Kadazan-Dusun, Iban) and Eurasian (Kristang) names, some accented.
OTHER_GIVEN = (
    "José", "Zoë", "André", "Renée", "Inês", "Joseph", "Mary", "Stephen", "Agnes", "Francis",
    "Christina", "Peter", "Juliana", "Dominic", "Clément", "Noémie", "Gregory", "Anne",
)  # fmt: skip
OTHER_FAMILY = (
    "Fernandes", "de Souza", "Pereira", "D'Cruz", "de Silva", "Rodrigues", "Monteiro",
    "Gimbang", "Majimbun", "Sipaun", "Lojingkau", "anak Jugah", "anak Nyipa", "Sequerah",
)  # fmt: skip
INDONESIAN_GIVEN = (
    "Budi", "Siti", "Dewi", "Agus", "Rina", "Hendra", "Wulan", "Eko", "Putri", "Bayu", "Indah",
)  # fmt: skip
INDONESIAN_FAMILY = (
    "Santoso", "Rahayu", "Lestari", "Wijaya", "Setiawan", "Kusuma", "Hidayat", "Saputra",
    "Pratama", "Nugroho", "Gunawan",
)  # fmt: skip

# --- places ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A city with its state, postcode range, street names and landline area code."""

    city: str
    state: str | None
    postcodes: tuple[int, int]
    streets: tuple[str, ...]
    area: str  # landline prefix as dialled nationally ("03"), "" where none is generated
    weight: int


MALAYSIA = (
    Place("Kuala Lumpur", "Wilayah Persekutuan Kuala Lumpur", (50000, 60000),
          ("Jalan Ampang", "Jalan Tun Razak", "Jalan Bukit Bintang", "Jalan Sultan Ismail",
           "Jalan Raja Chulan", "Jalan Kuching", "Jalan Klang Lama"), "03", 22),
    Place("Petaling Jaya", "Selangor", (46000, 47900),
          ("Jalan SS 2/24", "Jalan 17/1", "Jalan Damansara", "Persiaran Barat"), "03", 10),
    Place("Shah Alam", "Selangor", (40000, 40999),
          ("Persiaran Perbandaran", "Jalan Plumbum", "Jalan Kristal 7/61"), "03", 6),
    Place("Subang Jaya", "Selangor", (47500, 47699),
          ("Jalan SS 15/4", "Persiaran Kewajipan", "Jalan USJ 10/1"), "03", 5),
    Place("George Town", "Penang", (10000, 11999),
          ("Lebuh Chulia", "Jalan Burma", "Lebuh Armenian", "Jalan Macalister"), "04", 8),
    Place("Johor Bahru", "Johor", (80000, 81999),
          ("Jalan Wong Ah Fook", "Jalan Dato Onn", "Jalan Harimau", "Jalan Molek 1/29"), "07", 8),
    Place("Ipoh", "Perak", (30000, 31999),
          ("Jalan Sultan Idris Shah", "Jalan Raja Ekram", "Jalan Tasek"), "05", 4),
    Place("Melaka", "Melaka", (75000, 75999),
          ("Jalan Hang Tuah", "Jalan Bendahara", "Jalan Tun Sri Lanang"), "06", 3),
    Place("Seremban", "Negeri Sembilan", (70000, 70999),
          ("Jalan Dato Bandar Tunggal", "Jalan Rasah", "Jalan Tuan Sheikh"), "06", 3),
    Place("Kuantan", "Pahang", (25000, 26999),
          ("Jalan Besar", "Jalan Teluk Sisek", "Jalan Beserah"), "09", 2),
    Place("Alor Setar", "Kedah", (5000, 5999),
          ("Jalan Sultan Badlishah", "Jalan Langgar", "Lebuhraya Darul Aman"), "04", 2),
    Place("Kota Bharu", "Kelantan", (15000, 16999),
          ("Jalan Sultan Yahya Petra", "Jalan Hospital", "Jalan Kebun Sultan"), "09", 2),
    Place("Kuala Terengganu", "Terengganu", (20000, 21999),
          ("Jalan Sultan Ismail", "Jalan Kampung Cina", "Jalan Sultan Zainal Abidin"), "09", 1),
    Place("Putrajaya", "Wilayah Persekutuan Putrajaya", (62000, 62999),
          ("Persiaran Perdana", "Jalan P8", "Persiaran Sultan Salahuddin"), "03", 1),
    Place("Kota Kinabalu", "Sabah", (88000, 88999),
          ("Jalan Gaya", "Jalan Tun Fuad Stephens", "Jalan Lintas"), "", 4),
    Place("Sandakan", "Sabah", (90000, 90999), ("Jalan Leila", "Jalan Utara"), "", 1),
    Place("Kuching", "Sarawak", (93000, 93999),
          ("Jalan Padungan", "Jalan Satok", "Jalan Tun Jugah"), "", 4),
    Place("Miri", "Sarawak", (98000, 98999), ("Jalan Merpati", "Jalan Bendahara"), "", 1),
)  # fmt: skip
SINGAPORE = (
    Place("Singapore", None, (18000, 829999),
          ("Orchard Road", "Tampines Avenue 5", "Jurong West Street 42", "Ang Mo Kio Avenue 3",
           "Tanjong Pagar Road", "Bedok North Street 1"), "", 1),
)  # fmt: skip
INDONESIA = (
    Place("Jakarta", "DKI Jakarta", (10110, 14540),
          ("Jalan Sudirman", "Jalan Thamrin", "Jalan Gatot Subroto"), "", 5),
    Place("Surabaya", "Jawa Timur", (60111, 60299), ("Jalan Basuki Rahmat", "Jalan Darmo"), "", 2),
    Place("Batam", "Kepulauan Riau", (29400, 29499),
          ("Jalan Imam Bonjol", "Jalan Raja Ali"), "", 2),
    Place("Medan", "Sumatera Utara", (20111, 20371), ("Jalan Gatot Subroto", "Jalan Asia"), "", 2),
)  # fmt: skip
HOUSE_FORMATS = ("No. {n}, {street}", "{n}, {street}", "Lot {n}, {street}", "{n}A, {street}",
                 "B-{f}-{n}, {street}", "Unit {f}-{n}, Menara {tower}, {street}")  # fmt: skip
TOWERS = ("Mutiara", "Permata", "Cahaya", "Seri", "Alpha", "Indah", "Jaya", "Emas")

# --- organisations ---------------------------------------------------------------------------

COMPANY_STEMS = (
    "Sunrise", "Maju Jaya", "Golden Harvest", "Sinar Harapan", "Cahaya Bintang", "Permata",
    "Seri Murni", "Mega Prima", "Bintang Timur", "Harmoni", "Pacific Rim", "Eastern Star",
    "Titan", "Hup Seng", "Kim Loong", "Sri Murugan", "Teck Guan", "Evergreen", "Nusantara",
    "Borneo Highland", "Kinabalu", "Rajang", "Straits", "Lion City", "Tiger Rock", "Mutiara",
    "Gemilang", "Bayu Laut", "Sentosa", "Wawasan", "Intan", "Kristal", "Jade Dragon",
    "Lotus", "Orkid", "Kenanga", "Cempaka", "Emerald Bay", "Silver Lake", "Red Dot",
)  # fmt: skip
COMPANY_TRADES = (
    "Trading", "Engineering", "Logistics", "Food Industries", "Holdings", "Technologies",
    "Construction", "Motor", "Electrical", "Hardware", "Textiles", "Plantation", "Resources",
    "Marketing", "Properties", "Bakery", "Printing", "Travel & Tours", "Furniture", "Digital",
)  # fmt: skip
COMPANY_SUFFIXES = (("Sdn Bhd", 60), ("Berhad", 8), ("Enterprise", 16), ("PLT", 6),
                    ("Pte Ltd", 0), ("PT", 0), ("& Co", 4), ("Sdn. Bhd.", 6))  # fmt: skip
NON_PROFITS = (
    "Persatuan Penduduk {city}", "Yayasan {stem}", "Malaysian Nature Society {city} Branch",
    "Rotary Club of {city}", "Pertubuhan Kebajikan {stem}", "{city} Food Bank",
    "Persatuan Ibu Tunggal {city}", "{stem} Community Foundation",
)  # fmt: skip
GOVERNMENT = (
    "Majlis Bandaraya {city}", "Jabatan Kerja Raya Negeri {state}", "Pejabat Tanah {city}",
    "Jabatan Pendidikan Negeri {state}", "Lembaga Air {state}", "Hospital {city}",
    "Perbadanan Kemajuan Negeri {state}", "Majlis Perbandaran {city}",
)  # fmt: skip
INDUSTRIES = (
    ("Retail", 14), ("Manufacturing", 10), ("Food & Beverage", 10), ("Construction", 7),
    ("Education", 6), ("Healthcare", 6), ("Logistics", 6), ("Technology", 8), ("Oil & Gas", 3),
    ("Agriculture", 3), ("Palm Oil", 2), ("Tourism & Hospitality", 5), ("Financial Services", 5),
    ("Property", 5), ("Automotive", 4), ("Professional Services", 6), ("Public Sector", 2),
    ("Telecommunications", 2),
)  # fmt: skip
JOB_TITLES = (
    "Director", "Managing Director", "Operations Manager", "Purchasing Executive",
    "Finance Manager", "Accountant", "Sales Executive", "Marketing Manager", "Engineer",
    "Owner", "Admin Executive", "HR Manager", "IT Manager", "Procurement Officer", "Teacher",
    "Doctor", "Pharmacist", "Lecturer", "Business Development Manager", "Chief Executive Officer",
    "Software Developer", "Customer Service Executive", "Project Manager", "Chef", "Nurse",
)  # fmt: skip
PERSONAL_DOMAINS = (
    ("gmail.example", 55), ("yahoo.example", 15), ("hotmail.example", 12),
    ("outlook.example", 8), ("icloud.example", 4), ("streamyx.example", 3), ("tm.example", 3),
)  # fmt: skip

# --- staff -----------------------------------------------------------------------------------

# The sales reps customers are assigned to (super_admin accounts the demo creates).
STAFF = (
    ("Aisyah Rahman", "aisyah.rahman@clientbook.example"),
    ("Daniel Wong", "daniel.wong@clientbook.example"),
    ("Priya Nair", "priya.nair@clientbook.example"),
    ("Hafiz Ismail", "hafiz.ismail@clientbook.example"),
    ("Grace Lim", "grace.lim@clientbook.example"),
)
STAFF_WEIGHTS = (30, 25, 20, 15, 10)

# --- record details --------------------------------------------------------------------------

TAGS = (
    ("vip", 10), ("wholesale", 8), ("newsletter", 14), ("repeat-buyer", 12), ("corporate", 8),
    ("priority", 6), ("event-2025", 6), ("referral-partner", 5), ("WhatsApp", 9),
    ("Hari Raya promo", 5), ("CNY promo", 5), ("Deepavali promo", 3), ("late-payer", 3),
    ("B2B", 6),
)  # fmt: skip
NOTES_GENERAL = (
    "Regular customer since the first order.", "Met at the KL trade fair.",
    "Referred by an existing customer.", "Orders mostly before festive seasons.",
    "Pelanggan tetap, suka berurusan melalui telefon.", "Prefers to pay by bank transfer.",
    "Interested in the annual maintenance plan.", "Asked for a quotation in Malay.",
)  # fmt: skip
NOTES_PREFERENCES = (
    "Prefers WhatsApp over email.", "Call after 2pm only.", "Email invoices to the finance team.",
    "No calls on Fridays.", "Sila hubungi melalui emel.", "Prefers morning meetings.",
)  # fmt: skip
NOTES_IMPORTANT = (
    "Halal certification required.", "Needs e-invoice (LHDN MyInvois).",
    "Credit term 30 days approved.", "Do not send marketing SMS.",
)  # fmt: skip
PREFERRED_CONTACT = ("WhatsApp", "email", "phone", "SMS")
LOYALTY_TIERS = ("Silver", "Gold", "Platinum")

INTERACTION_TYPES = (
    ("call", 30), ("email", 25), ("meeting", 12), ("sms", 4), ("chat", 12), ("visit", 5),
    ("support", 9), ("other", 3),
)  # fmt: skip
INTERACTION_SUBJECTS = {
    "call": ("Follow-up call on quotation", "Called about delivery schedule",
             "Payment reminder call", "Introductory call"),
    "email": ("Sent revised quotation", "Invoice query", "Product catalogue sent",
              "Renewal reminder"),
    "meeting": ("Quarterly review meeting", "Site meeting", "Product demo", "Contract discussion"),
    "sms": ("Appointment reminder", "Promo code sent"),
    "chat": ("WhatsApp enquiry on pricing", "WhatsApp order confirmation", "Live chat question"),
    "visit": ("Visited showroom", "Visit to customer's office"),
    "support": ("Warranty claim", "Login problem", "Delivery damaged, replacement arranged"),
    "other": ("Festive hamper delivered", "Feedback form received"),
}  # fmt: skip
INTERACTION_OUTCOMES = (
    "Interested", "Quotation requested", "Order confirmed", "No answer", "Call back later",
    "Resolved", "Escalated", "Not interested",
)  # fmt: skip
NOTE_CATEGORIES = (("general", 40), ("preference", 20), ("important", 15), ("follow_up", 20),
                   ("other", 5))  # fmt: skip
NOTE_TEXTS = {
    "general": ("Customer is expanding to a second outlet next year.",
                "Long-standing account; decision maker is the owner."),
    "preference": ("Wants quotations in MYR inclusive of SST.",
                   "Prefers delivery on weekday mornings."),
    "important": ("Outstanding invoice under dispute; check with finance before new orders.",
                  "Requires halal-certified products only."),
    "follow_up": ("Follow up after Hari Raya on the bulk order.",
                  "Send the updated price list next month."),
    "other": ("Met the family at the open house.", "Sent a festive card."),
}  # fmt: skip
