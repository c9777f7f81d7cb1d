"""Related words for common class labels, used by the local classifier to expand a label.

Each concept lists, comma-separated, the label words that name it and the words and phrases a
text about it tends to use. A label ("Billing Issue", "shipping_delay", "techSupport") is split
into words; each word that names a concept brings that concept's related words. Matching is on
stems (text.stem), phrase by phrase.
"""

from __future__ import annotations

# Label words that say nothing about a topic on their own ("Billing Issue" is about billing).
GENERIC_LABEL_WORDS = frozenset(
    """issue issues problem problems request requests question questions inquiry enquiry
    category class type topic related general misc miscellaneous other others and or of the a
    an to for with news item items ticket tickets report""".split()  # noqa: SIM905
)
# Labels meaning "none of the others": they win when nothing else matches.
CATCH_ALL_LABELS = frozenset(
    """other others misc miscellaneous general unknown none unclassified uncategorized
    uncategorised not_applicable n/a""".split()  # noqa: SIM905
)

# (label words naming the concept, related words and phrases)
CONCEPTS: list[tuple[str, str]] = [
    # --- customer support -------------------------------------------------------------------
    (
        "billing, bill, bills, payment, payments, invoice, invoices, invoicing, charge, "
        "charges, pricing, price, subscription, finance, financial",
        "bill, billed, billing, invoice, receipt, charge, charged, overcharged, "
        "payment, pay, paid, paying, refund, reimburse, card, credit card, debit card, "
        "declined, bank, transaction, money, fee, fees, price, pricing, cost, costs, "
        "amount, subscription, renewal, renew, plan, tier, annual, annually, monthly, "
        "yearly, discount, coupon, promo, code, voucher, checkout, tax, vat, statement, "
        "statements, billing cycle, paypal, wire transfer, dollar, dollars, euro, "
        "euros, usd, eur, prorated, chargeback, cheaper, expensive, seats, license, "
        "licence, payment method, upgrade, downgrade, audit, quote, "
        "purchase order",
    ),
    (
        "refund, refunds, reimbursement, money back",
        "refund, refunded, money back, reimburse, reimbursement, return, chargeback, "
        "credit, compensation, cancel, cancelled, charged twice",
    ),
    (
        "technical, tech, technology, it, bug, bugs, error, errors, support, "
        "troubleshooting, software, performance, outage",
        "error, errors, bug, crash, crashes, crashed, freeze, freezes, frozen, hang, "
        "broken, broke, not working, doesn't work, stopped working, fails, failed, "
        "failure, glitch, slow, lag, loading, load, blank, page, screen, button, click, "
        "app, application, software, install, installer, installation, update, upgrade, "
        "version, server, website, site, browser, chrome, firefox, safari, edge, "
        "windows, mac, macos, linux, android, ios, iphone, phone, device, api, "
        "endpoint, request, response, timeout, timed out, connection, network, sync, "
        "synchronisation, synchronization, upload, download, export, import, "
        "integration, plugin, webhook, code, 404, 500, 503, exception, stack trace, "
        "log, logs, database, notification, notifications, feature, settings, cache, "
        "unreachable, down, outage, offline, reboot, restart, configure, configuration, "
        "driver, compatibility, video, audio, camera, microphone, search, results, "
        "attachment, file, files",
    ),
    (
        "account, accounts, login, log in, signin, sign in, access, profile, password, "
        "user, users, authentication, identity, membership",
        "account, accounts, login, log in, logged, logging, sign in, signed, sign up, "
        "signup, register, registered, registration, password, reset, forgot, username, "
        "user name, email address, profile, two-factor, 2fa, mfa, authentication, code, "
        "verification, verify, verified, activate, activation, link, locked, lock, "
        "unlock, suspended, deactivate, delete, close, personal data, gdpr, privacy, "
        "permissions, permission, admin, role, roles, invite, team, workspace, member, "
        "members, seat, display name, merge, duplicate, access, credentials, security "
        "question, hacked, compromised, someone else logged into",
    ),
    (
        "shipping, shipment, shipments, delivery, deliveries, logistics, order, orders, "
        "fulfilment, fulfillment, postage, courier, tracking",
        "ship, shipped, shipping, shipment, delivery, deliver, delivered, package, "
        "parcel, parcels, courier, carrier, tracking, tracking number, track, dispatch, "
        "dispatched, arrive, arrived, arrival, late, delayed, delay, lost, missing, "
        "address, transit, in transit, customs, warehouse, post, postal, postage, mail, "
        "ups, fedex, dhl, usps, royal mail, drop-off, pick up, pickup, collection, "
        "signature, doorstep, door, neighbour, neighbours, box, damaged, crushed, "
        "received, item, items, order, ordered, wrong size, exchange, return, returns, "
        "express, standard, processing, week, days, stuck, depot",
    ),
    (
        "returns, return, exchange, exchanges",
        "return, returned, returning, exchange, swap, wrong size, doesn't fit, refund, "
        "send back, return label, faulty, defective",
    ),
    (
        "cancellation, cancel, cancellations, churn, unsubscribe",
        "cancel, cancelled, canceled, cancellation, terminate, end, subscription, "
        "unsubscribe, stop, close account, opt out, no longer want, leave",
    ),
    (
        "sales, presales, pre-sales, quote, pricing inquiry, lead, leads",
        "pricing, price, quote, demo, trial, buy, purchase, enterprise, plan, seats, "
        "discount, volume, interested, offer, sales, representative, contract, proposal",
    ),
    (
        "feature request, feature, features, suggestion, suggestions, idea, ideas, "
        "enhancement, enhancements, improvement, roadmap",
        "would be great, nice to have, please add, could you add, suggestion, suggest, "
        "idea, feature, option, wish, improve, improvement, enhancement, support, for, "
        "dark mode, ability to",
    ),
    (
        "complaint, complaints, escalation",
        "complaint, complain, unacceptable, disappointed, frustrated, angry, terrible, "
        "awful, worst, rude, unhappy, poor service, never again, ridiculous, manager, "
        "escalate",
    ),
    (
        "feedback, compliment, compliments, praise, review, reviews, testimonial",
        "thank, thanks, thank you, great, love, excellent, amazing, helpful, happy, "
        "pleased, impressed, recommend, fantastic, wonderful, appreciate, review, "
        "feedback",
    ),
    (
        "security, fraud, abuse, phishing, spam report, privacy",
        "hacked, breach, compromised, phishing, scam, fraud, fraudulent, suspicious, "
        "malware, virus, vulnerability, exploit, unauthorized, unauthorised, stolen, "
        "password, leak, leaked, privacy, gdpr, personal data, attack",
    ),
    # --- sentiment and tone -----------------------------------------------------------------
    (
        "positive, pos, happy, satisfied, good, praise, promoter",
        "good, great, excellent, amazing, awesome, fantastic, wonderful, love, loved, "
        "lovely, like, liked, best, perfect, happy, glad, pleased, satisfied, "
        "delighted, impressed, recommend, helpful, easy, fast, quick, smooth, friendly, "
        "beautiful, brilliant, superb, thank, thanks, enjoy, enjoyed, nice, "
        "outstanding, works well",
    ),
    (
        "negative, neg, unhappy, dissatisfied, bad, angry, detractor",
        "bad, terrible, awful, horrible, hate, hated, worst, poor, disappointing, "
        "disappointed, frustrated, frustrating, angry, annoyed, useless, broken, slow, "
        "rude, waste, problem, problems, issue, fail, failed, failure, never again, "
        "unhappy, upset, refund, complaint, ridiculous, unacceptable, cheap, flimsy, "
        "wrong",
    ),
    (
        "neutral, mixed, indifferent",
        "okay, ok, fine, average, adequate, acceptable, decent, neither, mixed, some, "
        "however, information, question, wondering",
    ),
    # --- email triage -----------------------------------------------------------------------
    (
        "spam, junk, scam, phishing",
        "free, winner, won, prize, click here, click, offer, limited time, act now, "
        "urgent, cash, claim, congratulations, lottery, guaranteed, deal, unsubscribe, "
        "bitcoin, crypto, investment, opportunity, viagra, pills, cheap, selected, "
        "exclusive, reward, gift card, wire",
    ),
    (
        "ham, legitimate, not spam, personal, work",
        "meeting, tomorrow, thanks, project, lunch, regards, attached, schedule, call, "
        "team, review, colleague, family, dinner, weekend, notes, agenda",
    ),
    (
        "urgent, urgency, high, critical, emergency, asap, priority, blocker",
        "urgent, asap, immediately, right away, now, emergency, critical, down, outage, "
        "production, blocking, blocker, cannot work, deadline, today, severe, major, "
        "data loss, all users",
    ),
    (
        "low, minor, trivial, cosmetic",
        "whenever, no rush, minor, small, cosmetic, typo, suggestion, eventually, low "
        "priority, nice to have, not urgent, when you have time",
    ),
    (
        "medium, normal, moderate",
        "soon, this, week, moderate, some users, workaround, normal",
    ),
    (
        "question, questions, inquiry, enquiry, information, how to, howto",
        "how do i, how can i, how to, what is, where can, is there, can i, could you "
        "tell, wondering, question, information, explain",
    ),
    # --- news and content topics ------------------------------------------------------------
    (
        "sports, sport, athletics, football, soccer, basketball, tennis",
        "game, games, match, matches, team, teams, season, score, scored, goal, goals, "
        "won, win, wins, victory, defeat, lost, league, championship, champion, "
        "champions, coach, player, players, tournament, cup, olympic, olympics, "
        "football, soccer, basketball, tennis, cricket, baseball, rugby, golf, hockey, "
        "final, finals, striker, midfielder, goalkeeper, stadium, fans, referee, medal, "
        "race, marathon, record, athlete, athletes, squad, club, transfer, injury, "
        "injured, grand slam, title, quarter, derby, qualifiers, kick-off, halftime, "
        "stoppage time, set, sets",
    ),
    (
        "politics, political, government, elections, election, policy, policies, world, diplomacy",
        "government, election, elections, vote, voters, voting, poll, polls, "
        "parliament, minister, ministers, president, prime minister, senate, senators, "
        "congress, policy, law, laws, bill, party, parties, campaign, opposition, "
        "legislation, diplomat, diplomatic, treaty, governor, mayor, coalition, ballot, "
        "candidate, referendum, sanctions, cabinet, lawmakers, constitution, executive "
        "order, border, regime, embassy, summit, budget, scandal, counterpart, foreign "
        "minister, committee, democracy, democratic, republican",
    ),
    (
        "business, economy, economic, finance, financial, markets, market, corporate, companies",
        "company, companies, market, markets, shares, share, stock, stocks, profit, "
        "profits, revenue, earnings, quarter, quarterly, investors, investor, merger, "
        "acquisition, ceo, sales, economy, inflation, interest rates, central bank, "
        "growth, trade, tariff, tariffs, startup, funding, ipo, billion, million, "
        "percent, forecast, analysts, jobs, layoffs, factory, factories, prices, oil, "
        "dollar, currency, venture, fund, round, valuation, retailer, airline, "
        "carmaker, output, exports, imports, gdp, recession, dividend",
    ),
    (
        "technology, tech, science and technology, sci/tech, it, computing, digital, ai, gadgets",
        "software, hardware, app, apps, smartphone, phone, ai, artificial intelligence, "
        "model, chip, chips, processor, internet, online, cyber, hackers, hacked, data, "
        "cloud, computer, computers, laptop, laptops, device, devices, robot, robots, "
        "algorithm, digital, platform, users, update, operating system, browser, "
        "cookies, code, coding, quantum, qubits, social network, startup, silicon, "
        "engineers, launch, feature, camera, battery, wireless, 5g, semiconductor",
    ),
    (
        "science, research, space, environment, climate",
        "research, researchers, study, scientists, scientific, discovery, discovered, "
        "space, nasa, planet, planets, species, climate, experiment, physics, biology, "
        "chemistry, telescope, universe, laboratory, lab, fossil, evolution, galaxy, "
        "astronomers, genome, emissions, carbon, warming",
    ),
    (
        "health, medical, medicine, healthcare, wellness, wellbeing",
        "health, healthy, doctor, doctors, hospital, hospitals, patient, patients, "
        "disease, diseases, virus, vaccine, vaccines, vaccination, treatment, therapy, "
        "medicine, medicines, drug, drugs, clinical trial, cancer, symptoms, nurse, "
        "nurses, outbreak, diet, exercise, fitness, mental health, dementia, blood "
        "pressure, surgery, clinic, flu, measles, covid, infection, infections, heart, "
        "diabetes, obesity, risk, pharmaceutical, care, waiting times",
    ),
    (
        "entertainment, culture, arts, music, movies, film, celebrity, media",
        "film, films, movie, movies, music, album, song, songs, concert, actor, "
        "actress, celebrity, tv, television, series, show, shows, festival, box office, "
        "director, singer, band, award, awards, oscar, oscars, grammy, premiere, "
        "streaming, netflix, star, stars, hollywood, theatre, theater, book, novel, "
        "artist, gallery",
    ),
    (
        "crime, justice, legal, law, courts",
        "police, arrested, arrest, court, trial, judge, jury, guilty, sentenced, "
        "prison, jail, crime, criminal, murder, theft, robbery, fraud, lawsuit, sued, "
        "lawyer, attorney, prosecutor, charges, investigation, suspect, victim",
    ),
    (
        "travel, tourism, trip, trips",
        "flight, flights, airline, airport, hotel, hotels, booking, booked, trip, "
        "travel, tourist, tourists, vacation, holiday, destination, passport, visa, "
        "luggage, cruise",
    ),
    (
        "food, cooking, recipe, recipes, restaurant, restaurants, dining",
        "food, recipe, cook, cooking, restaurant, meal, meals, dish, dishes, chef, "
        "taste, delicious, ingredients, kitchen, dinner, lunch, breakfast, menu",
    ),
    (
        "education, school, schools, learning, university, academic",
        "school, schools, student, students, teacher, teachers, university, "
        "universities, course, courses, exam, exams, class, classes, degree, education, "
        "learning, campus, tuition, curriculum",
    ),
    (
        "weather",
        "weather, rain, storm, storms, snow, temperature, temperatures, forecast, wind, "
        "heatwave, flood, floods, sunny, cloudy, hurricane",
    ),
    (
        "hr, human resources, hiring, recruiting, recruitment, employment, jobs, careers",
        "salary, salaries, payroll, vacation, leave, sick leave, benefits, employee, "
        "employees, hire, hiring, recruit, recruitment, interview, candidate, job, "
        "jobs, position, onboarding, contract, resignation, promotion, manager",
    ),
    (
        "marketing, advertising, ads, brand, branding, promotion, seo",
        "campaign, campaigns, brand, ads, advertising, advert, social media, seo, "
        "newsletter, promotion, audience, engagement, influencer, marketing, content, "
        "leads, conversion",
    ),
    (
        "real estate, housing, property, properties",
        "house, houses, housing, home, homes, property, rent, rental, mortgage, "
        "apartment, flat, landlord, tenant, buyers, sellers, estate",
    ),
    (
        "automotive, cars, car, vehicles, auto",
        "car, cars, vehicle, vehicles, engine, electric, ev, driver, drivers, driving, "
        "tesla, battery, charging, road, motor, dealership",
    ),
]
