//! The files each paper dataset is read from, with their checksums and the
//! public homes `fetch` downloads them from.

use crate::DatasetName;

/// One file of a dataset, relative to the data directory.
#[derive(Debug, Clone, Copy)]
pub struct DataFile {
    pub path: &'static str,
    pub sha256: &'static str,
    pub bytes: u64,
}

/// How a file reaches us from its public home.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// Downloaded as is.
    Plain { url: &'static str },
    /// A member of a gzipped tar archive.
    TarGz {
        url: &'static str,
        member: &'static str,
    },
    /// The OpenML ARFF, turned into a CSV by the worker's `fetch::arff_to_csv`.
    ArffToCsv { url: &'static str },
}

pub struct Source {
    pub file: DataFile,
    pub origin: Origin,
}

const WINE: DataFile = DataFile {
    path: "wine-quality/winequality-red.csv",
    sha256: "4a402cf041b025d4566d954c3b9ba8635a3a8a01e039005d97d6a710278cf05e",
    bytes: 84_199,
};
const ADULT_DATA: DataFile = DataFile {
    path: "adult/adult.data",
    sha256: "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    bytes: 3_974_305,
};
const ADULT_TEST: DataFile = DataFile {
    path: "adult/adult.test",
    sha256: "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
    bytes: 2_003_153,
};
const HOUSING: DataFile = DataFile {
    path: "california-housing/cal_housing.data",
    sha256: "a2b44dcc7e1c9091b43c4f458b25cbd1f7e8068d08edd26bc4703108d3fa6214",
    bytes: 2_071_484,
};
const TITANIC: DataFile = DataFile {
    path: "titanic/titanic.csv",
    sha256: "77239f1d7d809091619c343ae31b9b040a183e5da92068e57302151031353596",
    bytes: 117_715,
};
const AUTO_MPG: DataFile = DataFile {
    path: "auto-mpg/auto-mpg.data",
    sha256: "48b830e11feee5572525f8f1691ddb9d38d3d7b7063edcd8fca672c2a5e17d8d",
    bytes: 30_286,
};

/// The files a dataset is read from, in the order its loader takes them.
pub fn files(name: DatasetName) -> &'static [DataFile] {
    match name {
        DatasetName::Wine => &[WINE],
        DatasetName::Adult => &[ADULT_DATA, ADULT_TEST],
        DatasetName::Housing => &[HOUSING],
        DatasetName::Titanic => &[TITANIC],
        DatasetName::AutoMpg => &[AUTO_MPG],
        DatasetName::Friedman1 | DatasetName::Moons => &[],
    }
}

/// Where `fetch` gets each file of a dataset.
pub fn sources(name: DatasetName) -> Vec<Source> {
    let plain = |file, url| Source {
        file,
        origin: Origin::Plain { url },
    };
    match name {
        DatasetName::Wine => vec![plain(WINE, "https://archive.ics.uci.edu/ml/machine-learning-databases/wine-quality/winequality-red.csv")],
        DatasetName::Adult => vec![
            plain(ADULT_DATA, "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.data"),
            plain(ADULT_TEST, "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.test"),
        ],
        DatasetName::Housing => vec![Source {
            file: HOUSING,
            origin: Origin::TarGz {
                url: "https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.tgz",
                member: "CaliforniaHousing/cal_housing.data",
            },
        }],
        DatasetName::Titanic => vec![Source {
            file: TITANIC,
            origin: Origin::ArffToCsv {
                url: "https://www.openml.org/data/v1/download/16826755/Titanic.arff",
            },
        }],
        DatasetName::AutoMpg => vec![plain(AUTO_MPG, "https://archive.ics.uci.edu/ml/machine-learning-databases/auto-mpg/auto-mpg.data")],
        DatasetName::Friedman1 | DatasetName::Moons => vec![],
    }
}
