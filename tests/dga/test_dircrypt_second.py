"""DirCrypt against a second, independent published output: github.com/360netlab/DGA
issue #12 (2016-09-12), sample MD5 8dce388365ba4ddd516a744c677d41e9: the 20 names
VirusTotal saw the sample look up (sorted there, so order unknown). In a comment on the
issue (2018-05-03) J. Bader identified the seed, 0xF6A84A56, and 50 names, and posted
the full list; its first 33 names are also checked here, in order.

DirCrypt ignores the date. All 20 observed names are among our 50 for seed 0xF6A84A56,
and our first 33 are the comment's first 33, in order."""

from __future__ import annotations

from datetime import date

from takedown.dga.families.dircrypt import FAMILY

SEED = 0xF6A84A56
OBSERVED = [
    "aecsztodxcauezvwv.com", "agqkgrttm.com", "dkpcztxjhlmgppzrd.com",
    "erajimtnghuqfdgnhj.com", "ftxtknedryvgywsmchm.com", "gcaocxscewiemvhggl.com",
    "gxcmyvpmuuxoluzdenhr.com", "hbyxpqjkm.com", "hrbkzpoytss.com",
    "injhsmedkkvjktwgmz.com", "iufmmhtfuglkewvyrira.com", "jzyskusvwwpnykoi.com",
    "khtpzsuzpbaforbsqoqt.com", "lvbikxjfrzrofxzn.com", "ngntxyqih.com",
    "ntaeqknhxehkadis.com", "pbxfdvizihgcv.com", "qmeuxytpxbf.com",
    "xbrsttwgaomaxapjpa.com", "zwmobkxpbcwddexzh.com",
]

COMMENT_FIRST_33 = [
    "roxgaffvgdoussasodp.com", "fmmpcvptedjj.com", "kcioltyxt.com",
    "uoneiidbgd.com", "cgisutadrreeofer.com", "cdvdzllc.com",
    "qmiovfqxfottkhvxnbh.com", "cosehduitwhveyawpvb.com", "rstjohxvafpdil.com",
    "ktnpeigebccttk.com", "owhcvpphjlhmmhsu.com", "hsysmmsyrqigvk.com",
    "xiwizgqqxsxiufcqog.com", "bbtflrghufwutxujka.com", "srivztiulphfxd.com",
    "poinakvh.com", "yjghnpukyqy.com", "zjnzfctktonlspuanzlr.com",
    "qszjxjem.com", "iedzvuyxzihzdwccayx.com", "gznvxlfppo.com",
    "adhwcthf.com", "halmafqsuibsddqls.com", "ppwktofoh.com",
    "evbjhfhddsqejovzfjx.com", "eugrbfjvkzx.com", "pmuyficrjmtartnzeouj.com",
    "vfcnugadnuhaoebzwaq.com", "khcagvgdllhfjqn.com", "siamgggtevghgi.com",
    "erajimtnghuqfdgnhj.com", "iufmmhtfuglkewvyrira.com", "injhsmedkkvjktwgmz.com",
]



def test_virustotal_names_are_in_the_50():
    names = FAMILY.generate(date(2016, 9, 12), seed=SEED, count=50)
    assert len(set(names)) == 50
    assert set(OBSERVED) <= set(names)


def test_posted_list_order():
    assert FAMILY.generate(date(2016, 9, 12), seed=SEED, count=33) == COMMENT_FIRST_33


def test_default_seed_is_another_sample():
    assert not set(OBSERVED) & set(FAMILY.generate(date(2016, 9, 12), count=50))
