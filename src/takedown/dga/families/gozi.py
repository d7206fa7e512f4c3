"""Gozi (ISFB, Ursnif, Papras): words of an embedded text, picked by an LCG.

Sources: GovCERT.ch, "Gozi ISFB - When A Bug Really Is A Feature"
(govcert.admin.ch/blog/18), and the reimplementation, word list and example
list in baderj/domain_generation_algorithms (gozi/, commit 09961a1). The test
matches gozi/example_domains.txt: the 12 names of the four days 2016-03-28 to
2016-03-31 with the Luther word list (its date is not stated; it was found by
trying periods, and it covers the day it was committed, 2016-03-29).

The variant shipped here is the one with the Latin text of Martin Luther's
95 theses (1517): the seed changes every four days counted from 2015-01-01
and the names end in .com. Samples with other texts (a NASA press release,
RFC 4343, the GPL) use other period lengths and TLDs; they are not shipped
because no output of theirs is published to test against.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import Family, Param

_EPOCH = date(2015, 1, 1)

# The sample's word list, in its order (duplicates included: the order and
# the count decide which word an index picks). Tokenised from the theses by
# the malware authors; taken from the published gozi/luther list.
_LUTHER = """
disputatio pro declaratione virtutis indulgentiarum martin luther martin luthers werke kritische
gesammtausgabe band weimar hermann boehlau amore studio elucidande veritatis hec subscripta
disputabuntur wittenberge presidente martino lutther artium theologie magistro eiusdemque ibidem
lectore ordinario quare petit qui non possunt verbis presentes nobiscum disceptare agant literis
absentes nomine domini nostri hiesu christi amen dominus magister noster iesus christus dicendo
penitentiam agite omnem vitam fidelium penitentiam esse voluit quod verbum penitentia sacramentali
est confessionis satisfactionis que sacerdotum ministerio celebratur non potest intelligi non tamen
solam intendit interiorem immo interior nulla est nisi foris operetur varias carnis mortificationes
manet itaque pena donec manet odium sui est penitentia vera intus scilicet usque introitum regni
celorum papa non vult nec potest ullas penas remittere preter eas quas arbitrio vel suo vel canonum
imposuit papa non potest remittere ullam culpam nisi declarando approbando remissam deo aut certe
remittendo casus reservatos sibi quibus contemptis culpa prorsus remaneret nulli prorus remittit
deus culpam quin simul eum subiiciat humiliatum omnibus sacerdoti suo vicario canones penitentiales
solum viventibus sunt impositi nihilque morituris secundum eosdem debet imponi inde bene nobis facit
spiritussanctus papa excipiendo suis decretis semper articulum mortis necessitatis indocte male
faciunt sacerdotes qui morituris penitentias canonicas purgatorium reservant zizania illa mutanda
pena canonica penam purgatorii videntur certe dormientibus episcopis seminata olim pene canonice non
post sed ante absolutionem imponebantur tanquam tentamenta vere contritionis morituri per mortem
omnia solvunt legibus canonum mortui iam sunt habentes iure earum relaxationem imperfecta sanitas
seu charitas morituri necessario secum fert magnum timorem tantoque maiorem quanto minor fuerit ipsa
hic timor horror satis est solo alia taceam facere penam purgatorii cum sit proximus desperationis
horrori videntur infernus purgaturium celum differre sicut desperatio prope desperatio securitas
differunt necessarium videtur animabus purgatorio sicut minni horrorem ita augeri charitatem nec
probatum videtur ullis aut rationibus aut scripturis quod sint extra statum meriti seu augende
charitatis nec hoc probatum esse videtur quod sint sua beatitudine certe secure saltem omnes licet
nos certissimi simus igitur papa per remissionem plenariam omnium penarum non simpliciter omnium
intelligit sed seipso tantummodo impositarum errant itaque indulgentiarum predicatores qui dicunt
per pape indulgentias hominem omni pena solvi salvari quin nullam remittit animabus purgatorio quam
hac vita debuissent secundum canones solvere remissio ulla omnium omnino penarum potest alicui dari
certum est eam non nisi perfectissimis paucissimis dari falli necesse est maiorem partem populi per
indifferentem illam magnificam pene solute promissionem qualem potestatem habet papa purgatorium
generaliter talem habet quilibet episcopus curatus sua diocesi parochia specialiter optime facit
papa quod non potestate clavis quam nullam habet sed per modum suffragii dat animabus remissionem
hominem predicant qui statim iactus nummus cistam tinnierit evolare dicunt animam certum est nummo
cistam tinniente augeri questum avariciam posse suffragium autem ecclesie est arbitrio dei solius
quis scit omnes anime purgatorio velint redimi sicut severino paschali factum narratur nullus
securus est veritate sue contritionis multominus consecutione plenarie remissionis quam rarus est
vere penitens tam rarus est vere indulgentias redimens rarissimus damnabuntur ineternum cum suis
magistris qui per literas veniarum securos sese credunt sua salute cavendi sunt nimis qui dicunt
venias illas pape donum esse illud dei inestimabile quo reconciliatur homo deo gratie enim ille
veniales tantum respiciunt penas satisfactionis sacramentalis homine constitutas non christiana
predicant qui docent quod redempturis animas vel confessionalia non sit necessaria contritio
quilibet christianus vere compunctus habet remissionem plenariam pena culpa etiam sine literis
veniarum sibi debitam quilibet versus christianus sive vivus sive mortuus habet participationem
omnium bonorum christi ecclesie etiam sine literis veniarum deo sibi datam remissio tamen
participatio pape nullo modo est contemnenda quia dixi est declaratio remissionis divine
difficillimum est etiam doctissimis theologis simul extollere veniarum largitatem contritionis
veritatem coram populo contritionis veritas penas querit amat veniarum autem largitas relaxat odisse
facit saltem occasione caute sunt venie apostolice predicande populus false intelligat eas preferri
ceteris bonis operibus charitatis docendi sunt christiani quod pape mens non est redemptionem
veniarum ulla parte comparandam esse operibus misericordie docendi sunt christiani quod dans pauperi
aut mutuans egenti melius facit quam venias redimereet quia per opus charitatis crescit charitas fit
homo melior sed per venias non fit melior sed tantummodo pena liberior docendi sunt christiani quod
qui videt egenum neglecto dat pro veniis non idulgentias pape sed indignationem dei sibi vendicat
docendi sunt christiani quod nisi superfluis abundent necessaria tenentur domui sue retinere
nequaquam propter venias effundere docendi sunt christiani quod redemptio veniarum est libera non
precepta docendi sunt christiani quod papa sicut magis eget ita magis optat veniis dandis pro
devotam orationem quam promptam pecuniam docendi sunt christiani quod venie pape sunt utiles non cas
confidant sed nocentissime timorem dei per eas amittant docendi sunt christiani quod papa nosset
exactiones venialium predicatorum mallet basilicam petri cineres ire quam edificari cute carne
ossibus ovium suarum docendi sunt christiani quod papa sicut debet ita vellet etiam vendita opus sit
basilicam petri suis pecuniis dare illis quorum plurimis quidam concionatores veniarum pecuniam
eliciunt vana est fiducia salutis per literas veniarum etiam commissarius immo papa ipse suam animam
pro illis impigneraret hostes christi pape sunt qui propter venias predicandas verbum dei aliis
ecclesiis penitus silere iubent iniuria fit verbo dei dum eodem sermone equale vel longius tempus
impenditur veniis quam illi mens pape necessario est quod venie quod minimum est una campana unis
pompis ceremoniis celebrantur euangelium quod maximum est centum campanis centum pompis centum
ceremoniis predicetur thesauri ecclesie unde pape dat indulgentias neque satis nominati sunt neque
cogniti apud populum christi temporales certe non esse patet quod non tam facile eos profundunt sed
tantummodo colligunt multi concionatorum nec sunt merita christi sanctorum quia hec semper sine papa
operantur gratiam hominis interioris crucem mortem infernumque exterioris thesauros ecclesie
laurentius dixit esse pauperes ecclesie sed locutus est usu vocabuli suo tempore sine temeritate
dicimus claves ecclesie merito christi donatas esse thesaurum istum clarum est enim quod remissionem
penarum casuum sola sufficit potestas pape verus thesaurus ecclesie est sacrosanctum euangelium
glorie gratie dei hic autem est merito odiosissimus quia primis facit novissimos thesaurus autem
indulgentiarum merito est gratissimus quia novissimis facit primos igitur thesauri euangelici rhetia
sunt quibus olim piscabantur viros divitiarum thesauri indulgentiarum rhetia sunt quibus nunc
piscantur divitias virorum indulgentie quas concionatores vociferantur maximas gratias intelliguntur
vere tales quoad questum promovendum sunt tamen vera minime gratiam dei crucis pietatem comparate
tenentur episcopi curati veniarum apostolicarum commissarios cum omni reverentia admittere sed magis
tenentur omnibus oculis intendere omnibus auribus advertere pro commissione pape sua illi somnia
predicent contra veniarum apostolicarum veritatem qui loquitur sit ille anathema maledictus qui vero
contra libidinem licentiam verborum concionatoris veniarum curam agit sit ille benedictus sicut papa
iuste fulminat eos qui fraudem negocii veniarum quacunque arte machinantur multomagnis fulminare
intendit eos qui per veniarum pretextum fraudem sancte charitatis veritatis machinantur opinari
venias papales tantas esse solvere possint hominem etiam quis per impossibile dei genitricem
violasset est insanire dicimus contra quod venie papales nec minimum venialium peccatorum tollere
possint quo culpam quod dicitur nec petrus modo papa esset maiores gratias donare posset est
blasphemia sanctum petrum papam dicimus contra quod etiam iste quilibet papa maiores habet scilicet
euangelium virtutes gratias curationum xii dicere crucem armis papalibus insigniter erectam cruci
christi equivalere blasphemia est rationem reddent episcopi curati theologi qui tales sermones
populum licere sinunt facit hec licentiosa veniarum predicatio nec reverentiam pape facile sit etiam
doctis viris redimere calumniis aut certe argutis questionibus laicorm scilicet cur papa non evacuat
purgatorium propter sanctissimam charitatem summam animarum necessitatem causam omnium iustissimam
infinitas animas redimit propter pecuniam funestissimam structuram basilice causam levissimam item
cur permanent exequie anniversaria defunctorum non reddit aut recipi permittit beneficia pro illis
instituta cum iam sit iniuria pro redemptis orare item que illa nova pietas dei pape quod impio
inimico propter pecuniam concedunt animam piam amicam dei redimere tamen propter necessitatem ipsius
met pie dilecte anime non redimunt eam gratuita charitate item cur canones penitentiales ipsa non
usu iam diu semet abrogati mortui adhuc tamen pecuniis redimuntur per concessionem indulgentiarum
tanquam vivacissimi item cur papa cuius opes hodie sunt opulentissimis crassis crassiores non suis
pecuniis magis quam pauperum fidelium struit unam tantummodo basilicam sancti petri item quid
remittit aut participat papa iis qui per contritionem perfectam ius habent plenarie remissionis
participationis item quid adderetur ecclesie boni maioris papa sicut semel facit ita centies die
cuilibet fidelium has remissiones participationes tribueret quo papa salutem querit animarum per
venias magis quam pecunias cur suspendit literas venias iam olim concessas cum sint eque efficaces
hec scrupulosissima laicorum argumenta sola potestate compescere nec reddita ratione diluere est
ecclesiam papam hostibus ridendos exponere infelices christianos facere ergo venie secundum spiritum
mentem pape predicarentur facile illa omnia solverentur immo non essent valeant itaque omnes illi
prophete qui dicunt populo christi pax pax non est pax bene agant omnes illi prophete qui dicunt
populo christi crux crux non est crux exhortandi sunt christiani caput suum christum per penas
mortes infernosque sequi studeant sic magis per multas tribulationes intrare celum quam per
securitatem pacis confidant xvii this text was converted ascii format for project wittenberg rev
robert smith and the public domain you may freely distribute copy print this text please direct any
comments suggestions rev robert smith the walther library concordia theological seminary mail
smithre mail ctsfw edu surface mail clinton wayne usa phone fax file pub resources text wittenberg
luther ninetyfive latin txt
""".split()


class Gozi(Family):
    def names(self, start: date, *, count: int) -> list[str]:
        r = ((1 << 16) + (start - _EPOCH).days // 4 - 306607824) & 0xFFFFFFFF

        def rand() -> int:
            nonlocal r
            r = (1664525 * r + 1013904223) & 0xFFFFFFFF
            return r

        out = []
        for _ in range(count):
            rand()  # the sample discards one number per name
            length = 12 + rand() % 12
            label = ""
            while len(label) < length:
                word = _LUTHER[rand() % len(_LUTHER)]
                take = len(word) // 2 if rand() % 3 == 0 else len(word)
                if len(label) + take <= 24:  # a word that would overflow is skipped
                    label += word[:take]
            out.append(label + ".com")
        return out


FAMILY = Gozi(
    name="gozi",
    aliases=("isfb", "ursnif", "papras"),  # not "snifula": vawtrak claims it too
    seeding="date: the number of four-day periods since 2015-01-01 (Luther word list)",
    period_days=4,
    per_period=12,
    tlds=("com",),
    params=(Param("count", int, 12, "names per period"),),
    sources=(
        "https://www.govcert.admin.ch/blog/18/gozi-isfb-when-a-bug-really-is-a-feature",
        "https://github.com/baderj/domain_generation_algorithms/tree/09961a1/gozi",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 gozi/example_domains.txt: all 12 names of the period "
        "2016-03-28..2016-03-31 with the Luther word list (the only published list; its date is not stated, "
        "it was found by trying periods)",
    ),
    epoch=_EPOCH,
)
