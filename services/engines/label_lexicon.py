"""Related words for common class labels, used by the local classifier to expand a label.

Each concept lists, comma-separated, the label words that name it and the words and phrases a
text about it tends to use. A label ("Billing Issue", "shipping_delay", "techSupport") is split
into words; each word that names a concept brings that concept's related words. Matching is on
stems (text.stem), phrase by phrase.

Over 500 lines because it is data: the concept tables themselves, one line per concept.
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

# (label words naming the concept, related words and phrases[, weak evidence: words a text
# about it often uses but texts about other things use too, such as place names])
CONCEPTS: list[tuple[str, ...]] = [
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
]
# News and content topics: for a news, article or topic classification a label word naming
# one of these ("tech", "business") means this concept, not a support concept of that name.
_TOPIC_CONCEPTS: list[tuple[str, ...]] = [
    (
        "world, international, global, foreign, world news, international news, foreign affairs",
        "international, foreign, troops, soldiers, military, army, war, wars, attack, attacks, "
        "bomb, bombing, bombs, explosion, killed, killing, dead, deaths, wounded, militants, "
        "rebels, insurgents, insurgency, guerrillas, hostage, hostages, kidnapped, terror, "
        "terrorism, terrorist, terrorists, peace, peace talks, ceasefire, cease-fire, truce, "
        "nuclear, refugees, humanitarian, united nations, un, nato, european union, eu, "
        "security council, prime minister, president, foreign minister, embassy, envoy, "
        "diplomat, diplomats, summit, talks, protest, protesters, riots, crisis, conflict, "
        "regime, coup, sanctions, occupation, invasion, border, capital, pope, vatican, "
        "election, elections, vote, opposition, parliament, government, minister, "
        "cleric, mosque, shiite, sunni, al qaeda, taliban, hamas, hezbollah, arafat, saddam, "
        "bin laden, gunmen, suicide, blast, blasts, militia, militiamen, clashes, junta, "
        "rebel, soldier, civilians, civilian, casualties, massacre, genocide, famine, aid, "
        "aid workers, relief, earthquake, tsunami, floods, kidnappers, beheaded, "
        "assassination, dictator, exile, independence, separatist, separatists, "
        "peacekeepers, peacekeeping, weapons, inspectors, uranium, enrichment, missile, "
        "missiles, airstrike, airstrikes, raid, raids, insurgent, warlord, warlords, "
        "president-elect, opposition leader, referendum, parliamentary, presidential, "
        "kerry, bush administration, white house, pentagon, state department, rice, "
        "powell, rumsfeld, annan",
        # places and peoples in the news: weak evidence (sport and business travel too)
        "iraq, iraqi, baghdad, afghanistan, afghan, kabul, iran, iranian, tehran, israel, "
        "israeli, palestinian, palestinians, gaza, jerusalem, west bank, syria, lebanon, "
        "egypt, jordan, saudi, yemen, pakistan, pakistani, india, indian, china, chinese, "
        "beijing, taiwan, japan, japanese, tokyo, korea, korean, pyongyang, seoul, russia, "
        "russian, moscow, putin, chechen, chechnya, ukraine, ukrainian, kiev, georgia, "
        "europe, european, france, french, paris, germany, german, berlin, britain, british, "
        "london, blair, spain, madrid, italy, rome, greece, athens, turkey, turkish, "
        "sudan, darfur, congo, nigeria, kenya, somalia, zimbabwe, africa, african, "
        "venezuela, chavez, colombia, mexico, brazil, haiti, cuba, canada, australia, "
        "indonesia, philippines, thailand, vietnam, nepal, sri lanka, bangladesh, "
        "asia, asian, latin america, middle east, arafat, sharon, saddam, bin laden, "
        "al qaeda, taliban, hamas, hezbollah, kurdish, shiite, sunni, cleric, mosque, "
        "najaf, fallujah, mosul, ramadi, basra, tikrit, kirkuk, kurds, sadr, allawi, "
        "sharon, abbas, mubarak, musharraf, karzai, mugabe, sudanese, israelis, "
        "lebanese, syrian, jordanian, egyptian, saudis, kuwait, qatar, bahrain, "
        "libya, algeria, morocco, tunisia, ethiopia, uganda, rwanda, burundi, angola, "
        "ivory coast, liberia, sierra leone, ghana, senegal, mali, chad, niger, "
        "south africa, australia, new zealand, malaysia, singapore, burma, myanmar, "
        "cambodia, laos, north korea, south korea, mongolia, kazakhstan, uzbekistan, "
        "armenia, azerbaijan, belarus, poland, polish, hungary, czech, slovakia, "
        "romania, bulgaria, serbia, bosnia, kosovo, croatia, albania, macedonia, cyprus, "
        "netherlands, dutch, belgium, belgian, sweden, norway, denmark, finland, "
        "ireland, irish, scotland, portugal, austria, switzerland, swiss, argentina, "
        "chile, peru, bolivia, ecuador, paraguay, uruguay, nicaragua, honduras, "
        "guatemala, el salvador, panama, dominican",
    ),
    (
        "sports, sport, athletics, football, soccer, basketball, tennis",
        "game, games, match, matches, team, teams, season, score, scored, goal, goals, "
        "won, win, wins, victory, defeat, lost, league, championship, champion, "
        "champions, coach, player, players, tournament, cup, olympic, olympics, "
        "football, soccer, basketball, tennis, cricket, baseball, rugby, golf, hockey, "
        "final, finals, striker, midfielder, goalkeeper, stadium, fans, referee, medal, "
        "race, marathon, record, athlete, athletes, squad, club, transfer, injury, "
        "injured, grand slam, title, quarter, derby, qualifiers, kick-off, halftime, "
        "stoppage time, set, sets, nfl, nba, mlb, nhl, nascar, fifa, uefa, ncaa, pga, "
        "grand prix, formula one, olympic games, paralympics, world cup, super bowl, "
        "playoffs, playoff, postseason, inning, innings, homer, home run, pitcher, "
        "quarterback, touchdown, yards, rushing, wickets, batsman, bowler, test match, "
        "premiership, premier league, serie a, bundesliga, la liga, champions league, "
        "manager, coach, coaches, sprinter, swimmer, gymnast, cyclist, boxer, boxing, "
        "wrestling, golfer, open, seeded, semifinal, semifinals, quarterfinal, "
        "quarterfinals, draw, unbeaten, points, rebounds, assists, lineup, roster, "
        "rookie, veteran, season opener, red sox, yankees, mets, lakers, knicks, "
        "arsenal, chelsea, manchester united, real madrid, barcelona, liverpool, "
        "doping, medals, gold medal, silver, bronze, relay, sprint, slam, cup final, "
        "red sox, white sox, yankees, mets, cubs, braves, dodgers, astros, orioles, "
        "mariners, padres, rockies, marlins, phillies, pirates, brewers, royals, "
        "blue jays, diamondbacks, expos, patriots, steelers, ravens, bengals, colts, "
        "titans, jaguars, texans, broncos, chiefs, raiders, chargers, cowboys, redskins, "
        "packers, vikings, falcons, buccaneers, seahawks, 49ers, celtics, pistons, "
        "spurs, mavericks, pacers, cavaliers, timberwolves, grizzlies, nuggets, "
        "sonics, clippers, raptors, maple leafs, canadiens, bruins, flyers, penguins, "
        "red wings, blackhawks, avalanche, oilers, canucks, senators, sabres, "
        "hurricanes, lightning, nascar, tiger woods, agassi, federer, roddick, "
        "hewitt, sharapova, serena, venus williams, henman, schumacher, ferrari, "
        "mclaren, armstrong, tour de france, ryder cup, davis cup, wimbledon, "
        "us open, french open, australian open, masters, pga tour, lpga, "
        "heisman, bowl, big east, big ten, sec, acc, pac-10, ncaa tournament, "
        "arsenal, chelsea, manchester, real madrid, barcelona, juventus, ac milan, "
        "inter milan, bayern, ajax, porto, celtic, rangers, everton, tottenham, "
        "newcastle, aston villa, fulham, uefa cup, fa cup, euro 2004, "
        "weightlifting, weightlifter, gymnastics, swimming, diving, rowing, sailing, "
        "athletes, sprinters, hurdles, decathlon, marathon, skater, skating, skiing, "
        # the vocabulary of each sport, general rather than this season's names
        "test series, one-day, one-day international, odi, twenty20, wicket, wicketkeeper, "
        "batsmen, batting, bowling, bowled, bowlers, paceman, spinner, fast bowler, "
        "all-rounder, run out, lbw, umpire, umpires, icc, ashes, birdie, birdies, bogey, "
        "bogeys, fairway, fairways, putt, putts, putting, tee, tees, under-par, over-par, "
        "caddie, clubhouse, double fault, tiebreak, tie-break, break point, match point, "
        "top seed, unseeded, atp, wta, straight sets, heavyweight, middleweight, "
        "lightweight, welterweight, knockout, knocked out, undisputed, title fight, "
        "promoter, pole position, podium, pit stop, constructors, drivers' championship, "
        "chequered flag, motorsport, motogp, cyclist, cyclists, peloton, stage win, "
        "yellow jersey, penalty kick, free kick, corner kick, equaliser, equalizer, "
        "own goal, clean sheet, hat-trick, hat trick, winger, defender, defenders, "
        "centre-back, sent off, red card, yellow card, relegation, relegated, away win, "
        "home win, away game, home game, running back, wide receiver, tight end, "
        "linebacker, cornerback, interception, fumble, field goal, kicker, punt, end zone, "
        "touchdowns, completions, gridiron, bowl game, pitched, pitching, pitchers, "
        "shutout, strikeout, strikeouts, rbi, rbis, bullpen, reliever, doubleheader, "
        "batting average, walk-off, grand slam, home runs, hitter, hitters, outfielder, "
        "infielder, shortstop, catcher, slugger, world series, al east, nl west, "
        "wild card, point guard, shooting guard, dunk, three-pointer, free throw, "
        "free throws, tip-off, triple-double, double-double, puck, goaltender, power play, "
        "power-play, hat-trick, stanley cup, jockey, jockeys, racehorse, thoroughbred, "
        "furlong, furlongs, kentucky derby, triple crown, breeders' cup, olympian, "
        "olympians, world champion, world record, personal best, knockout stage, "
        "group stage, semi-final, semi-finals, quarter-final, quarter-finals, runner-up, "
        "title defence, defending champion, head coach, free agent, free agency, "
        "contract extension, draft pick, trade deadline, sidelined, hamstring, ankle, "
        "knee injury, groin, anti-doping",
    ),
    (
        "politics, political, government, elections, election, policy, policies, world, diplomacy",
        "government, election, elections, vote, voters, voting, poll, polls, "
        "parliament, minister, ministers, president, prime minister, senate, senators, "
        "congress, policy, law, laws, bill, party, parties, campaign, opposition, "
        "legislation, diplomat, diplomatic, treaty, governor, mayor, coalition, ballot, "
        "candidate, referendum, sanctions, cabinet, lawmakers, constitution, executive "
        "order, border, regime, embassy, summit, budget, scandal, counterpart, foreign "
        "minister, committee, democracy, democratic, republican, labour, tory, tories, "
        "conservative, conservatives, lib dem, lib dems, liberal democrats, mp, mps, "
        "commons, house of commons, lords, house of lords, downing street, westminster, "
        "whitehall, chancellor, home secretary, secretary, shadow, spokesman, ministry, "
        "manifesto, general election, polling, constituency, peers, bill, act, blair, "
        "brown, howard, kennedy, bush, kerry, white house, asylum, immigration, council, "
        "councils, assembly, public services, nhs, reform, reforms",
    ),
    (
        "business, economy, economic, finance, financial, markets, market, corporate, companies",
        "company, companies, market, markets, shares, share, stock, stocks, profit, "
        "profits, revenue, earnings, quarter, quarterly, investors, investor, merger, "
        "acquisition, ceo, sales, economy, inflation, interest rates, central bank, "
        "growth, trade, tariff, tariffs, startup, funding, ipo, billion, million, "
        "percent, forecast, analysts, jobs, layoffs, factory, factories, prices, oil, "
        "dollar, currency, venture, fund, round, valuation, retailer, airline, "
        "carmaker, output, exports, imports, gdp, recession, dividend, insurer, insurers, "
        "insurance, bank, banks, banking, lender, deal, deals, bid, takeover, stake, "
        "shareholders, shareholder, chief executive, chairman, corp, inc, firm, firms, "
        "bankruptcy, creditors, debt, bonds, treasury, yields, wall street, nasdaq, dow, "
        "s&p, index, fed, federal reserve, interest rate, rates, crude, opec, barrel, "
        "unemployment, jobless, payrolls, economists, consumer, consumers, spending, "
        "retail, retailers, wal-mart, pension, pensions, tax, taxes, regulators, sec, "
        "antitrust, airlines, automaker, automakers, gm, ford, boeing, airbus, sales, "
        "quarter, fiscal, outlook, downgrade, upgrade, rating, ratings, invest, "
        "investment, investments, manufacturing, industry, industrial, prices, price, "
        "kmart, sears, wal-mart, walmart, costco, target corp, chrysler, toyota, honda, "
        "nissan, volkswagen, daimlerchrysler, united airlines, us airways, delta air, "
        "american airlines, northwest airlines, continental airlines, exxon, shell, bp, "
        "chevron, yukos, gazprom, pfizer, merck, astrazeneca, glaxosmithkline, "
        "eli lilly, citigroup, jpmorgan, goldman sachs, morgan stanley, merrill lynch, "
        "aig, fannie mae, freddie mac, enron, worldcom, martha stewart, nestle, "
        "unilever, coca-cola, coke, pepsico, mcdonald's, disney, time warner, viacom, "
        "comcast, kodak, general electric, ge, altria, philip morris, halliburton, "
        "conocophillips, marsh, spitzer, greenspan, snow, treasury secretary, imf, "
        "world bank, wto, trade deficit, current account, consumer prices, inflation, "
        "housing starts, retail sales, factory orders, jobless claims, crude oil, "
        "oil prices, gasoline, natural gas, heating oil, brent, nymex, futures, "
        "euro, yen, sterling, pound, dollars, cents, bn, profit warning, pretax, "
        "net income, per share, forecasts, shareholders, buyout, private equity, "
        "hedge fund, mutual fund, brokerage, insurer, underwriters, ipo, listing, "
        "supermarket, grocer, brewer, steelmaker, automaker, chipmaker, drugmaker",
    ),
    (
        "technology, tech, science and technology, sci/tech, it, computing, digital, ai, gadgets",
        "software, hardware, app, apps, smartphone, phone, ai, artificial intelligence, "
        "model, chip, chips, processor, internet, online, cyber, hackers, hacked, data, "
        "cloud, computer, computers, laptop, laptops, device, devices, robot, robots, "
        "algorithm, digital, platform, users, update, operating system, browser, "
        "cookies, code, coding, quantum, qubits, social network, startup, silicon, "
        "engineers, launch, feature, camera, battery, wireless, 5g, semiconductor, "
        "microsoft, apple, google, ibm, intel, amd, dell, hewlett-packard, hp, oracle, sap, "
        "cisco, yahoo, amazon, ebay, nokia, motorola, sony, samsung, linux, windows, ipod, "
        "itunes, xbox, playstation, video game, video games, games console, pc, pcs, web, "
        "website, web site, search engine, e-mail, email, spam, virus, worm, security flaw, "
        "patch, broadband, wi-fi, bluetooth, mobile phone, cell phone, handset, handsets, "
        "network, networking, server, servers, storage, database, open source, desktop, "
        "notebook, tablet, download, downloads, file-sharing, piracy, blog, blogs, "
        "supercomputer, telecom, satellite, space, nasa, shuttle, probe, rocket, orbit, "
        "moon, mars, saturn, planet, astronomers, scientists, researchers, study, "
        "species, genetic, dna, stem cell, stem cells, cloning, users, net, "
        "peoplesoft, siemens, palm, palmone, blackberry, napster, realnetworks, "
        "sun microsystems, aol, netscape, mozilla, firefox, symantec, mcafee, "
        "verisign, adobe, novell, red hat, sco, unix, gartner, idc, forrester, xerox, "
        "texas instruments, broadcom, qualcomm, vodafone, t-mobile, nextel, toshiba, "
        "hitachi, fujitsu, nec, lenovo, compaq, eds, tivo, skype, voip, mp3, hdtv, lcd, "
        "plasma, flash memory, wimax, gps, spyware, adware, hacker, intrusion, "
        "vulnerability, exploit, encryption, domain, domains, icann, isp, isps, "
        "hubble, telescope, asteroid, comet, galaxy, astronaut, astronauts, "
        "spacecraft, cassini, rover, esa, space station, spaceshipone, fossils, "
        "dinosaur, dinosaurs, genes, gene, wildlife, climate change, global warming, "
        "endangered, extinct, archaeologists, biologists, physicists, researchers say, "
        "scientists say, journal, nature, science journal, ozone, glacier, "
        "technologies, technological, gadget, gadgets, mobile, mobiles, phones, "
        "digital music, high-definition, hi-fi, screen, screens, gaming, gamers, "
        "console, consoles, nintendo, hackers, malicious, phishing, firewall, "
        "virus writers, programs, program, programme, technology firm, electronics, "
        "consumer electronics, tv tuner, digital tv, dvd, dvds, recorder, "
        "search, tags, rfid, chips, microchip, "
        # general computing and telecoms vocabulary
        "hardware maker, software maker, chipmaker, handheld, handhelds, pda, pdas, "
        "smart phone, smartphones, 3g, telecommunications, mobile operator, "
        "operating systems, computing, supercomputing, grid computing, processors, "
        "megahertz, gigahertz, disk, hard drive, storage, backup, bandwidth, e-commerce, "
        "online retailer, internet users, web users, web surfers, search results, "
        "web pages, websites, webcast, podcast, podcasts, rss, instant messaging, "
        "peer-to-peer, p2p, downloads, music downloads, digital rights, drm, copyright, "
        "patents, patent, source code, programmers, developers, developer, it managers, "
        "enterprise software, data center, datacenter, outsourcing, tech, techies, geeks, "
        "hi-tech, high-tech, cybersecurity, cybercrime, identity theft, worms, trojan, "
        "botnet, zombie, denial of service, e-voting, electronic voting, voting machines",
    ),
    (
        "science, sci, research, space, environment, climate",
        "research, researchers, study, scientists, scientific, discovery, discovered, "
        "space, nasa, planet, planets, species, climate, experiment, physics, biology, "
        "chemistry, telescope, universe, laboratory, lab, fossil, evolution, galaxy, "
        "astronomers, genome, emissions, carbon, warming, "
        # the natural sciences and medical research
        "scientist, researcher, study finds, studies, findings, journal, peer-reviewed, "
        "professor, university researchers, volcano, volcanoes, eruption, erupts, lava, "
        "seismic, geologists, geology, ocean, oceans, marine, coral, reef, whales, "
        "dolphins, sharks, birds, insects, mammals, primates, apes, chimpanzees, frogs, "
        "reptiles, ecosystem, ecosystems, biodiversity, conservation, conservationists, "
        "habitat, rainforest, forests, extinction, endangered species, wildlife, zoo, "
        "fossil, fossils, paleontologists, ancient, archaeology, archaeological, "
        "excavation, tomb, mummy, methane, greenhouse gas, greenhouse gases, "
        "kyoto protocol, pollution, meteorologists, ice sheet, arctic, antarctic, "
        "antarctica, protein, proteins, molecule, molecules, enzyme, bacteria, microbes, "
        "genetically, genetically modified, gm crops, clone, cloned, embryo, embryos, "
        "stem-cell, neuroscience, brain, neurons, mice, rats, lab mice, medical research, "
        "clinical, patients, disease, diseases, cancer, tumor, tumors, tumour, obesity, "
        "diabetes, heart disease, alzheimer's, vaccine, vaccines, flu, influenza, hiv, "
        "aids, virus, infection, epidemic, fda, food and drug administration, cdc, drug, "
        "drugs, pharmaceutical, doctors, physicians, medical, medicine, health, surgeons, "
        "surgery, hospital",
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
        "artist, gallery, chart, charts, single, singles, hit, rock, pop, rapper, dj, "
        "comedy, drama, sitcom, soap, episode, broadcaster, bbc, channel, viewers, "
        "ratings, audience, audiences, cinema, studio, studios, sequel, cast, role, "
        "starring, starred, nominated, nomination, nominations, ceremony, bafta, golden "
        "globe, brit awards, emmy, musical, stage, west end, broadway, performer, "
        "performance, entertainment, celebrities, fans, tour, records, label, author, "
        "writer, screen",
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

# Words of a topic's related list that news of every topic uses ("a $5 million deal", "market
# share", "government contracts", "talks"): weak evidence for the topic.
_SHARED_NEWS_WORDS = {
    "business": "million, billion, percent, company, companies, deal, deals, market, markets, "
    "growth, industry, industrial, firm, firms, sales, price, prices, spending, consumer, "
    "consumers, jobs, trade, bid, round, rating, ratings, upgrade, downgrade, index, outlook, "
    "forecast, forecasts, investment, invest, fund, venture, startup, funding",
    "world": "government, talks, crisis, killed, dead, deaths, capital, border, vote, "
    "election, elections, minister, president, aid, relief, protest, summit, security "
    "council, conflict, weapons, suicide",
}


def _weaken(concepts: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The concepts with their _SHARED_NEWS_WORDS moved from the related words to the weak."""
    out = []
    for concept in concepts:
        names, related, *weak = concept
        first = names.split(",")[0].strip()
        shared = {w.strip() for w in _SHARED_NEWS_WORDS.get(first, "").split(",") if w.strip()}
        if shared:
            kept = [w for w in related.split(",") if w.strip() not in shared]
            moved = [w.strip() for w in related.split(",") if w.strip() in shared]
            weak_text = ", ".join(filter(None, [weak[0] if weak else "", ", ".join(moved)]))
            concept = (names, ",".join(kept), weak_text)
        out.append(concept)
    return out


_TOPIC_CONCEPTS = _weaken(_TOPIC_CONCEPTS)

TOPIC_FIRST = len(CONCEPTS)
CONCEPTS += _TOPIC_CONCEPTS
