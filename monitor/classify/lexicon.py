"""The word lists of the trial classifier, as compiled regular expressions (stdlib only).

Changing any pattern changes classifications: bump ``CLASSIFIER_VERSION`` in ``rules.py``.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE

# --- what can be administered -------------------------------------------------------------------------------
# A term: a pattern for the ASCII-lower-cased text (fast: no IGNORECASE) with the lower-case substrings one of
# which it needs (a cheap pre-check), and optionally a case-sensitive pattern for the original text (acronyms
# such as "EVs", "CM", "MSC") with the substrings it needs.
Term = tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str] | None, re.Pattern[str] | None]


def needles(*words: str) -> re.Pattern[str]:
    """A case-sensitive literal pre-check (much faster than an IGNORECASE search)."""
    return re.compile("|".join(re.escape(w) for w in words))


EV_TERM: Term = (
    re.compile(
        r"\b(?:i?exo(?:so)?somes?|exosome-like|exos|ectosomes?|extracellular[- ]vesicles?|microvesicles?|"
        r"micro-vesicles?|microparticles?|microparticules?|nano-?vesicles?|"
        r"(?:grapefruit|grape|ginger|lemon|broccoli|plant|fruit|edible)[- ](?:derived )?nano-?(?:vectors?|particles?)|"
        r"apoptotic (?:extracellular )?vesicles?|apoptotic bodies|dexosomes?|exoflo|"
        r"zofin|exosting|exoil-?12|exoaso(?:-\w+)?|"
        r"outer[- ]membrane vesicles?|generali[sz]ed modules? for membrane antigens?)\b|"
        r"\bexo(?=[- ](?:cd\d|\d))|(?<=[a-z]-)exos?\b|\bexos?(?=-(?:[a-z]+-)?(?:mscs?|adscs?|ipscs?)\b)"
    ),
    needles("exo", "vesic", "micropart", "nano", "zofin", "ectosom", "generali"),
    re.compile(r"\b(?:s?EVs?|MPs|ATMPs|N?OMVs?|GMMA)\b"),  # (OMV, GMMA: bacterial outer-membrane vesicles)
    needles("EV", "MP", "OMV", "GMMA"),
)
MEASURED_EV_TERM: Term = (
    re.compile(r"\b(?:exosomal|exodx|exointelliscore|exosome[- ]based)\b"),
    needles("exo"),
    None,
    None,
)
SECRETOME_TERM: Term = (
    re.compile(
        r"\b(?:(?:lyo)?secretomes?|secretom|conditioned (?:medium|media)|culture supernatants?|supernatants?|lysates?|"
        r"secretions? of|(?:cells?|cell[- ]derived|component)\s+extracts?|cell[- ]free (?:[\w-]+ )?extracts?|"
        r"acellular (?:[\w-]+ )?(?:system|product|preparation|fraction|formulation|derivative)s?|"
        r"(?:cell )?culture[- ]derived (?:[\w-]+ ){0,2}(?:molecules|factors|proteins)|"
        r"stem[- ]cells? (?:culture )?media|"
        r"cell[- ]derived biologics?|cellular cytokine solutions?|"
        r"paracrine factors|trophic factors?|secreted factors|pleiotropic factors?|stem[- ]cell growth factors?|"
        r"(?:stem[- ]cells?|cells?|mscs?)[- ]derived (?:growth )?factors|"
        r"factors? (?:derived|secreted|released|produced|isolated|obtained) (?:from|by))\b"
    ),
    needles(
        "secret", "conditioned", "supernat", "lysat", "extract", "paracrine", "trophic", "pleiotrop", "factor",
        "acellular", "culture", "biologic", "cytokine solution",
    ),
    re.compile(r"(?<![A-Za-z0-9])CM(?![A-Za-z0-9])"),
    needles("CM"),
)
CELL_TERM: Term = (
    re.compile(
        r"\b(?:(?:mesenchymal|stromal)\s+(?:stem\s+|stromal\s+|progenitor\s+)?cells?|mesenchymal cell therapy|"
        r"stem[- ]cells?(?![- ](?:transplant|free|derived|factor|growth factor|mobili[sz]\w*))|"
        r"cell therapy|cell[- ]based therap\w*|cell suspension|cell products?|cell (?:[\w-]+ ){0,2}immunotherap\w*|"
        r"killer (?:\(nk\) )?cells?|nk cells?|(?:stem[- ]cells?|i?pscs?|escs?)[- ]derived (?:[\w-]+ ){0,3}?cells?|"
        r"encapsulated (?:[\w-]+ ){0,3}?cells?|encapsulated cell (?:technology|system|biodelivery)|cells encapsulated|"
        r"cell therapeutic device|"
        r"stromal vascular fraction|dendritic cells?(?:\s+(?:vaccin\w*|therapy|immunotherapy))?|"
        r"(?:autologous|allogeneic|allogenic|patient's own)\s+(?:[\w-]+\s+){0,2}cells?|"
        r"transplant(?:ation|ed|ing)? of\s+(?!(?:[\w-]+\s+){0,3}?(?:ha?ematopoietic|blood|hsc))(?:[\w-]+\s+){0,5}?"
        r"cells?)\b(?![- ]free)"
    ),
    needles("cell", "stromal"),
    re.compile(
        r"\b(?:[A-Za-z]+-)?(?:h?UC-?|BM-?|AD-?|ad|WJ-?|U|UC|h)?MSCs?\b|"
        r"\b(?:ADSCs?|ASCs|MSCTRAIL|DCs|(?:DC-)?CIK|SVF|MenSCs?|DPSCs?|SHEDs?)\b(?![- ](?:CM|EVs?|[Ee]xos?|sEVs?)\b)"
    ),
    needles("MSC", "ASC", "DSC", "DCs", "CIK", "SVF", "MenSC", "DPSC", "SHED"),
)
# a cell word alone, read in intervention names only ("stem cell factor" is a cytokine)
WEAK_CELL_TERM: Term = (re.compile(r"\bcells?\b(?![- ](?:free|factor))"), needles("cell"), None, None)
# "BM-MSC derived sEVs", "stem cells-derived small extracellular vesicles": cells named as what makes the product
MAKES_PRODUCT_AFTER_RE = re.compile(r"[\s-]*(?:derived|secreted|released|produced|generated)\b", _I)
# "IRX-2 ... restores and activates multiple immune cell types including T cells, dendritic cells": cells acted on
TARGET_CELLS_BEFORE_RE = re.compile(r"\b(?:activates|restores|stimulates|recruits|attracts)\b[^.;]*$", _I)
NOT_ADMINISTERED_CELL_RE = re.compile(r"\b(?:blood|red|white|cancer|tumou?r|donor|target)\s+$", _I)
BLOOD_PRODUCT_TERM: Term = (
    re.compile(
        r"\b(?:platelet[- ]rich plasma|platelet[- ]poor plasma|plasma tear(?:s| drops)|serum eye drops|"
        r"autologous serum|platelet lysate|plasma rich in growth factors|"
        r"platelet[- ]rich fibrin|platelet concentrate|convalescent plasma|"
        r"platelet[- ]derived (?!growth)(?:[\w-]+ )?factors?)\b"
    ),
    needles("plasma", "serum", "platelet"),
    re.compile(r"\b(?:PRP|PRF|PRGF)\b"),
    needles("PRP", "PRF", "PRGF"),
)
# perinatal tissue given without its cells: "Amniotic Membrane Extract Eye Drop", "Human amniotic suspension
# allograft", "Umbilical Cord Wharton's Jelly Allograft", "Dehydrated Human Placental Tissue" (class "other")
PERINATAL_TISSUE_TERM: Term = (
    re.compile(
        r"\b(?:amniotic|amnion|placental?|umbilical cord|wharton[’']?s jelly)\b(?:[\w’'/ -]{0,30}?)"
        r"\b(?:allografts?|(?<!cell )extracts?|tissues?(?![- ](?:derived|engineer))|membranes?|hydrolysates?|"
        r"particulates?)\b(?![- ]derived)|\bd?hacm\b"
    ),
    needles("amnio", "amnion", "placent", "umbilical", "wharton", "hacm"),
    None,
    None,
)
_PRODUCT_TERMS = (
    EV_TERM, MEASURED_EV_TERM, SECRETOME_TERM, CELL_TERM, WEAK_CELL_TERM, BLOOD_PRODUCT_TERM, PERINATAL_TISSUE_TERM
)
# every pre-check above in one search: a text none of them hits names no product
ANY_PRODUCT_LOWER = re.compile("|".join(t[1].pattern for t in _PRODUCT_TERMS))
ANY_PRODUCT_UPPER = re.compile("|".join(t[3].pattern for t in _PRODUCT_TERMS if t[3] is not None))
PRODUCT_WORD_RE = re.compile(  # any product word, for short texts (intervention names, engineering clauses)
    "|".join(
        f"(?i:{t[0].pattern})" + (f"|{t[2].pattern}" if t[2] else "")
        for t in (EV_TERM, SECRETOME_TERM, CELL_TERM, BLOOD_PRODUCT_TERM)
    )
)

# --- context around an EV / secretome word -----------------------------------------------------------------
MEASURE_BEFORE_RE = re.compile(
    r"(?:\b(?:circulating|detect\w*|measur\w*|quantif\w*|profil\w*|analy[sz]\w* (?:of|for)|"
    r"(?<!\dx )(?<!dose )levels? of|biomarkers? of|sequenc\w*|"
    r"(?:elevations?|increases?|decreases?|reductions?|rises?) (?:of|in)|"
    r"quantit(?:y|ies) of|numbers? of|amounts? of|affecting|changes? (?:of|in|within)|alter\w*|release[sd]?|"
    r"secrete[sd]?|(?-i:shed)|isolat\w* (?:from )?(?:the )?"
    r"(?:plasma|serum|blood|urine)|(?:effects?|impact|influence) (?:of (?:[\w-]+ ){1,5})?on|"
    r"(?:generation|biogenesis|composition|content|characteri[sz]ation|functional activit(?:y|ies)|kinetics|"
    r"dynamics|uptake) of)\b|"
    r"\b(?:cytokines?|chemokines?|markers?|biomarkers?|proteins?)\s*(?:,|and|or)\s+$)",
    _I,
)
# microparticles in a text about a drug formulation, not cell-derived vesicles: "Embozene TANDEM Microspheres ...
# loaded with Irinotecan" for "Transarterial Embolization", "Paclitaxel-loaded tumor penetrating microparticles"
MICROPARTICLE_RE = re.compile(r"^(?:microparticles?|microparticules?|MPs)$", _I)
DRUG_PARTICLE_RE = re.compile(
    r"\b(?:(?:chemo)?emboli[sz]\w*|transarterial|TACE|microspheres?|polymer\w*|PLGA|biodegradable|"
    r"drug[- ]eluting|tumou?r[- ]penetrating)\b",
    _I,
)
# "Impact of Mindfulness-Based Cognitive Therapy and ... Interventions on Extracellular Vesicles": the vesicles are
# the outcome of what is given, however long its name (MEASURE_BEFORE_RE sees only the last 40 characters)
EFFECT_ON_BEFORE_RE = re.compile(
    r"\b(?:effects?|impacts?|influence) of\b[^.;:]{1,120}?\bon\s+(?:the\s+)?(?:circulating\s+|plasma\s+|serum\s+)?$", _I
)
# "research on interactions between portal hypertension and microparticles": the vesicles are what is studied
RELATION_BEFORE_RE = re.compile(
    r"\b(?:interactions?|relationships?|relations?|associations?|correlations?|links?)\s+between\s+"
    r"(?:[\w-]+\s+){1,4}and\s+$",
    _I,
)
# a fluid or tissue right before a vesicle word ("plasma exosomes") says it is measured, except in the name of
# what is given ("BIOLOGICAL: Autologous plasma exosomes", "Tumor exosomes loaded with ...")
FLUID_BEFORE_RE = re.compile(r"\b(?:serum|plasma|urine|urinary|blood|salivary|tumou?r|cancer)\s+$", _I)
# "Exosome-depleted plasma", "EV-free medium": the vesicles are taken out, not given
DEPLETED_AFTER_RE = re.compile(r"[- ]?(?:depleted|free|removed|deprived)\b", _I)
MEASURE_AFTER_RE = re.compile(
    r"^\s+(?:in|within) (?:the )?(?:patients'? |subjects'? |participants'? )?(?:urine|plasma|serum|blood(?:stream)?|"
    r"saliva|cerebrospinal fluid|CSF|bile|tears|semen|breast milk|ascites|pleural fluid|circulation)\b|"
    r"^[\s\w()/,-]{0,30}?\b(?:levels?|profil\w*|biomarkers?|markers?|\w*signatures?|concentrations?|kinetics|"
    r"counts?|RNAs?|miRNAs?|microRNAs?|lncRNAs?|proteins?|PD-L1|cargo|detect\w*|diagnos\w*|prognos\w*|assay|captured|"
    r"test|isolation|liquid biopsy|(?:released|secreted|shed) (?:by|from) (?:\w+\s+){0,2}(?:cancer|tumou?r)|"
    r"(?:will be|are|were|was|is|to be)\s+(?:measured|quantified|analy[sz]ed|detected|sequenced|profiled|counted))\b",
    _I,
)
# "tumor lysate-pulsed dendritic cells": the lysate is what the cells are loaded with
ANTIGEN_AFTER_RE = re.compile(r"(?:\s*\([^()]{1,30}\))?[- ](?:pulsed|primed|loaded)\b", _I)
# lysates and extracts named with nothing said to be given are not evidence that vesicles or a secretome are measured
NOT_MEASURABLE_RE = re.compile(r"^(?:lysates?|.*extracts?)$", _I)
ANTIGEN_BEFORE_RE = re.compile(r"\b(?:pulsed|primed|loaded|charged|with)\b[\s\w-]{0,25}$", _I)
# "Hemopurifier to clear immunosuppressive exosomes": the vesicles are what a device or drug removes
REMOVED_BEFORE_RE = re.compile(
    r"\b(?:clear(?:s|ing|ance of)?|remov(?:e|es|ing|al of)|deplet(?:e|es|ing|ion of)|captur(?:e|es|ing)|"
    r"eliminat(?:e|es|ing|ion of)|adsorb(?:s|ing)?)\s+(?:[\w-]+\s+){0,3}$",
    _I,
)
# what may stand between an EV / secretome word and the words naming where it comes from:
# "extracellular vesicle preparation derived from", "secretome used in this research comes from",
# "secretome (set of substances released from the cell to its surroundings) of", "will be collected from"
SOURCE_LINK_RE = re.compile(
    r"^\s*(?:\([^()]{0,120}\)\s*)?"
    r"(?:(?:preparations?|products?|solutions?|injections?|suspensions?|formulations?|fractions?|concentrates?|"
    r"(?:eye\s+)?drops?|sprays?|gels?|creams?|ointments?|powders?|mouthwash|"
    r"used in (?:this|the) (?:research|study|trial))\s+){0,2}"
    r"(?:\([^()]{0,120}\)\s*)?"
    r"(?:(?:will be|is being|are being|has been|have been|are|is|were|was)\s+)?"
    r"(?:(?:derived|isolated|obtained|produced|secreted|released|collected|harvested|extracted|purified|prepared|"
    r"generated|manufactured|retrieved)\s+(?:from|by)|comes? from|originat\w* from|from|of)\s",
    _I,
)
_DESCRIPTORS = (  # words that may stand before an EV / secretome word as its source ("UC-MSC-derived")
    "mesenchymal stem stromal cell cells derived human allogeneic allogenic autologous umbilical cord "
    "adipose bone marrow wharton's wharton’s jelly placenta placental amniotic amnion dental pulp follicle gingival "
    "synovial hypoxic hypoxia normoxic explants explant induced pluripotent dendritic tumor tumour plant "
    "grape edible fruit mature immature tissue multipotent progenitor and small large purified isolated "
    "lyophilized lyophilised freeze-dried concentrated primed preconditioned"
)
DESCRIPTOR_WORDS = frozenset(_DESCRIPTORS.split())
DESCRIPTOR_TOKEN_RE = re.compile(
    r"^(?:[a-z]*-?)?(?:msc|mscs|adsc|adscs|asc|ascs|dc|dcs|ipsc|ipscs|psc|pscs|uc|wj|bm|ad|shed|dpscs?|menscs?)$"
)

# --- design --------------------------------------------------------------------------------------------------
# words saying something is given to the participants (routes, doses, treatment), and the intervention types
# that are always given; a record with vesicle words and none of these only studies them
ADMINISTRATION_RE = re.compile(
    r"\b(?:administ\w+|infus\w+|inject\w+|inhal\w+|nebuli[sz]\w+|intravenous\w*|intranasal\w*|nasal spray|"
    r"intra-?(?:nasal|articular|dermal|vitreal|thecal|tumou?ral|muscular|ovarian|cavernous|venous|lesional)\w*|"
    r"topical\w*|eye ?drops?|drops|sprays?|gel|cream|ointment|mouthwash|dressings?|doses?|dosing|dosage|"
    r"treat(?:ed|ing|ment)? (?:with|of|for)|to treat|in treating|therapy|therapeutic|applied|"
    r"application|transplant\w*|supplement\w*|given|receive[sd]?|receiving|first[- ]in[- ]human|open[- ]label|placebo|"
    r"for (?!(?:the |an? )?(?:diagnos|detect|predict|prognos|screen|monitor|assess|evaluat|early|identif|analy))"
    r")\b",
    _I,
)
# a sentence calling its vesicles a biomarker measures them, whatever else it says ("... Kidney Transplantation:
# Biomarker of Antibody-mediated Rejection")
BIOMARKER_WORD_RE = re.compile(r"\bbiomarkers?\b", _I)
# cues that name what is given after them: "treated with dapagliflozin" gives a drug, not the vesicles of the sentence
OBJECT_CUE_RE = re.compile(r"^(?:treat(?:ed|ing|ment)? with|receive[sd]?|receiving)$", _I)
# "the Safety and Efficacy of Exosomes Derived from ...", "Use of Exosomes in ...": the vesicles are what is tested
TESTED_PRODUCT_RE = re.compile(
    r"\b(?:safety|efficacy|tolerability|feasibility|use|therapeutic effects?)(?:\s+(?:and|&)\s+(?:the\s+)?(?:safety|"
    r"efficacy|tolerability|feasibility))?(?:\s+evaluation)?\s+of\s+(?:[\w'()+&/-]+\s+){0,6}?"
    r"(?:\S*exos\w*|\S*-exo|\S*exosom\w*|extracellular vesic\w*|\w*vesicles?|secretom\w*|conditioned med\w*|"
    r"s?EVs?)\b",
    _I,
)
# words saying the study only observes: they outweigh the loose cues above ("for", "using")
OBSERVATIONAL_RE = re.compile(r"\b(?:observational|retrospective|case[- ]control|cohort study|registry)\b", _I)
ADMINISTERED_TYPES = frozenset({"BIOLOGICAL", "GENETIC", "COMBINATION_PRODUCT", "DIETARY_SUPPLEMENT"})
# intervention types whose *name* is what is given: "DRUG: Exosome Complex, RNA" names a product, not a measurement
GIVEN_NAME_TYPES = ADMINISTERED_TYPES | {"DRUG"}
DIAGNOSTIC_PURPOSES = frozenset({"DIAGNOSTIC", "SCREENING"})
# an intervention that only collects samples ("Biospecimen Collection"): the study measures
SAMPLING_RE = re.compile(
    r"^\s*(?:(?:bio-?specimen|specimen|sample|blood sample|blood) (?:collection|draw|sampling)s?\s*$|"
    r"(?:[\w-]+\s+){0,3}?samples?\b|collect(?:ion of|ing)?\s+(?:[\w-]+\s+){0,2}?samples?\b|"
    r"(?:[\w-]+\s+){0,3}?blood tests?\s*$)",
    _I,
)  # "Blood sample", "Portal vein blood sample", "Supplementary blood samples collection ...", "collect samples"

# --- where the product comes from ----------------------------------------------------------------------------
SRC_DENDRITIC_RE = re.compile(r"\bdendritic\b|\bDCs?\b|\bdexosomes?\b", re.IGNORECASE)
SRC_TUMOR_RE = re.compile(
    r"\b(?:tumou?r|cancer)[- ](?:cells?[- ])?derived\b|\b(?:tumou?r|cancer|glioma|carcinoma|leuka?emia)\s+cells?\b|"
    r"\bascites[- ]derived\b|\btumou?r[- ](?:cell[- ])?lysates?\b",
    _I,
)
# an `other` product made from the patient's tumour (a tumour lysate or heat-shock-protein vaccine, no cells given)
TUMOR_PRODUCT_RE = re.compile(
    r"\b(?:made|prepared|derived|produced|taken) from (?:a |the |their |each )?(?:person's |patient's |patients' |"
    r"autologous )?(?:own )?"
    r"(?:cancer|tumou?r)\b|\btumou?r[- ](?:cell[- ])?lysates?\b|\bheat[- ]shock protein[- ]peptide complex|\bHSPPC\b",
    _I,
)
SRC_PLANT_RE = re.compile(
    r"\b(?:plants?|grapes?|grapefruits?|citrus|ginger|fruits?|edible|lemons?|broccoli|vegetables?)\b", _I
)
SRC_PERINATAL_RE = re.compile(
    r"(?i:\b(?:umbilical|cord blood|wharton\S*|placenta\w*|amnion\w*|amniotic|perinatal|d?hacm)\b)"
    r"|\b(?:h?UC-?MSCs?|hUCMSC\w*|UCMSCs?|UMSCs?|WJ-?MSCs?|UC(?=-|\s*MSC))"
)
SRC_ADULT_RE = re.compile(
    r"(?i:\b(?:bone[- ]marrow|adipose|lipoaspirate|menstrual blood|"
    r"dental pulp(?![- ](?:regenerat|revasculari|necrosis))|dental follicles?|apical papilla|"
    r"exfoliated deciduous teeth|(?:gingiva\w*|buccal fat(?: pad)?)(?:[- ]derived)?[- ](?:mesenchymal|stem|stromal)|"
    r"synovi\w+|periodontal ligament)\b)"
    r"|\b(?:[A-Za-z]+-)?(?:BM-?MSCs?|AD-?MSCs?|ad-?MSCs?|ADSCs?|ASCs?|DPSCs?|SHED|MenSCs?)\b"
)
SRC_BLOOD_RE = re.compile(  # (an "exosome serum" or "growth factor serum" is a skin-care formulation, not blood)
    r"\b(?:plasma(?![- ]?lyte)|platelets?|erythrocytes?|red blood cells?|"
    r"(?<!exosome )(?<!exosomes )(?<!secretome )(?<!factor )(?<!factors )serum|PRP)\b",
    _I,
)
SRC_OTHER_RE = re.compile(
    r"\b(?:(?:induced )?pluripotent|i?PSCs?|hair[- ]follicles?|HEK ?-?293\w*|293 cells|T-REx\S*|Expi293\w*|"
    r"CAR-?T|T[- ]cells?|NK cells?|"
    r"embryo(?:nic)? stem|neural stem|neural progenitor|keratinocytes?|fibroblasts?|bovine|milk|bacteri\w+|"
    r"probiotic|limbal|"
    r"outer[- ]membrane|N?OMVs?|GMMA)\b",
    _I,
)
SRC_MSC_RE = re.compile(r"(?i:\b(?:mesenchymal|mesenchyma|stromal)\b)|\b(?:h?MSCs?|MSC\w*)\b")
SRC_STEM_RE = re.compile(r"\bstem[- ]cells?\b", _I)
# producing cells that make a vesicle or secretome a manufactured product: nobody measures "MSC EVs" in patients,
# while plasma, platelet, tumour, endothelial or placental vesicles are often only measured
MANUFACTURED_SOURCE_RE = re.compile(
    "|".join(
        f"(?i:{p.pattern})" if p.flags & re.IGNORECASE else p.pattern
        for p in (SRC_MSC_RE, SRC_STEM_RE, SRC_DENDRITIC_RE, SRC_PLANT_RE)
    )
    + r"|(?i:\b(?:induced )?pluripotent\b)|\b(?:[A-Za-z]*-)?(?:i?PSCs?|ADSCs?|ASCs?)\b"
)
# a blood test that is not about vesicles ("donor-derived cell-free DNA", "circulating tumor DNA", "liquid biopsy"):
# the source of an `other` record, unless the text names another fluid or a culture medium
BLOOD_TEST_RE = re.compile(
    r"\b(?:cell[- ]free (?:fetal )?(?:DNA|RNA|nucleic acids?)|c[ft]-?DNA|ccf-?DNA|dd-cfDNA|"
    r"circulating (?:tumou?r )?(?:DNA|RNA|nucleic acids?|micro-?RNAs?|miRNAs?)|liquid biops\w*|blood tests?)\b",
    _I,
)
NOT_BLOOD_TEST_RE = re.compile(r"\b(?:culture medi\w*|urine|urinary|saliva|cerebrospinal|CSF|embryos?)\b", _I)
FLUID_BLOOD_RE = re.compile(r"\b(?:plasma|serum|blood|circulating|liquid biopsy)\b", _I)
FLUID_OTHER_RE = re.compile(  # fluids other than blood a biomarker study may measure vesicles in
    r"\b(?:urine|urinary|saliva|salivary|cerebrospinal|CSF|bile|biliary|pleural|ascit\w*|tears?|semen|seminal|"
    r"breast milk|bronchoalveolar|BALF?|stool|feces|faecal|fecal|aqueous humou?r|vitreous)\b",
    _I,
)

# --- engineering ----------------------------------------------------------------------------------------------
ENGINEERED_RE = re.compile(
    r"(?i:\b(?:engineered|genetically (?:modified|engineered)|transduced|transfected|over-?express\w*|"
    r"car[- ]?(?:t|nk)|chimeric antigen receptors?|"
    r"iexosomes?|antisense|(?:drug|antigen|peptide|sirna|mirna|chemotherapy|tumou?r antigen)[- ]loaded|"
    r"(?:lysate|antigen|peptide|mrna|rna)(?:/[\w-]+)?(?:\s*\([^()]{1,30}\))?[- ](?:pulsed|primed|loaded|transfected)|"
    r"\w+-pulsed|"
    r"tumou?r[- ]loaded|"
    r"(?:pulsed|primed|loaded) with (?:[\w-]+ ){0,2}(?:exosomes?|lysates?|homogenates?|antigens?|peptides?)|"
    r"(?:m|si|mi|sh)rna[- ](?:[\w-]+[- ])?(?:exosomes?|evs?|extracellular vesicles?|nano\w+|delivery)|"
    r"gene therap(?:y|ies))\b)"
    r"|\b(?i:expressing)\s+[A-Z][A-Z0-9-]{1,}"
)
ENGINEERED_NEEDLES = needles(
    "engineer", "genetic", "transduc", "transfect", "express", "iexosom", "antisense", "loaded", "rna", "gene therap",
    "pulsed", "primed", "car-", "car ", "cart", "carnk", "chimeric",
)
CARGO = (
    r"(?:methotrexate|MTX|curcumin|paclitaxel|doxorubicin|gemcitabine|siRNAs?|miRNAs?|miR-?\d+\w*|mRNAs?|antisense|"
    r"ASOs?|"
    r"STING|agonists?|antigens?|peptides?|chemotherap\w*|drugs?|tumou?r lysate|lysates?|homogenates?|IL-12|"
    r"(?:apoptotic |irradiated |brain |autologous )*tumou?r (?:stem )?cells?)"
)
CARGO_AFTER_RE = re.compile(
    r"^(?![^.;]{0,40}?\bwith (?:and|or) without\b)[^.;]{0,40}?"
    r"\b(?:(?<!combined )(?<!combination )(?<!together )with|containing|carrying|loaded with|packaging|pulsed with|"
    r"primed with|encapsulating)\s+"
    r"(?:[\w-]+\s+){0,3}" + CARGO + r"\b",
    _I,
)
CARGO_BEFORE_RE = re.compile(
    CARGO + r"\s+(?:[\w-]+\s+){0,2}(?:conjugated (?:with|to)|loaded (?:into|in|onto)|packaged (?:in|into)|"
    r"encapsulated (?:in|into)|delivered by)\s+[^.;]{0,30}$",
    _I,
)
