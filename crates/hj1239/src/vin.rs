//! The vehicle identification number: 17 characters of `0-9` and `A-Z` without `I`, `O` and
//! `Q`, the ninth a check digit (GB 16735-2019, as ISO 3779 and the North American rule):
//! each character's value (digits as themselves, letters by the transliteration table) times
//! its position's weight, summed, modulo 11, `X` for 10.

/// A VIN that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VinError {
    /// Not 17 characters.
    #[error("VIN {0:?} has {1} characters, not 17")]
    Length(String, usize),
    /// A character outside `0-9A-Z` or one of `I`, `O`, `Q`.
    #[error("VIN {0:?}: {1:?} is not allowed in a VIN")]
    Character(String, char),
    /// The ninth character is not the check digit the others give.
    #[error("VIN {vin:?}: check digit {given:?}, the other characters give {expected:?}")]
    CheckDigit {
        /// The VIN.
        vin: String,
        /// Its ninth character.
        given: char,
        /// What it should be.
        expected: char,
    },
}

const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

fn value(c: char) -> Option<u32> {
    Some(match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A' | 'J' => 1,
        'B' | 'K' | 'S' => 2,
        'C' | 'L' | 'T' => 3,
        'D' | 'M' | 'U' => 4,
        'E' | 'N' | 'V' => 5,
        'F' | 'W' => 6,
        'G' | 'P' | 'X' => 7,
        'H' | 'Y' => 8,
        'R' | 'Z' => 9,
        _ => return None,
    })
}

/// The check digit the other characters of `vin` give (its ninth character is ignored).
pub fn check_digit(vin: &str) -> Result<char, VinError> {
    let chars: Vec<char> = vin.chars().collect();
    if chars.len() != 17 {
        return Err(VinError::Length(vin.to_owned(), chars.len()));
    }
    let mut sum = 0;
    for (c, w) in chars.iter().zip(WEIGHTS) {
        let v = value(*c).ok_or_else(|| VinError::Character(vin.to_owned(), *c))?;
        sum += v * w;
    }
    Ok(match sum % 11 {
        10 => 'X',
        d => char::from_digit(d, 10).unwrap_or('0'),
    })
}

/// `vin` with its ninth character replaced by the check digit the others give (for the
/// simulator and tests, which make up VINs).
pub fn with_check_digit(vin: &str) -> Result<String, VinError> {
    let digit = check_digit(vin)?;
    Ok(vin
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 8 { digit } else { c })
        .collect())
}

/// Checks syntax and check digit.
pub fn check(vin: &str) -> Result<(), VinError> {
    let expected = check_digit(vin)?;
    let given = vin.chars().nth(8).unwrap_or(' ');
    if given == expected {
        Ok(())
    } else {
        Err(VinError::CheckDigit {
            vin: vin.to_owned(),
            given,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_vins_pass_and_made_up_ones_do_not() {
        assert_eq!(
            with_check_digit("LGDCHA1G0MA127733").as_deref(),
            Ok("LGDCHA1G8MA127733")
        );
        // The three real VINs of the protocol summary's worked frames.
        for v in [
            "LGDCHA1G8MA127733",
            "LGDCH91G8KA141269",
            "LG6ZDANH7EY208182",
        ] {
            assert_eq!(check(v), Ok(()), "{v}");
        }
        // ISO 3779's classic example.
        assert_eq!(check("1M8GDM9AXKP042788"), Ok(()));
        assert!(matches!(
            check("LGDCHA1G9MA127733"),
            Err(VinError::CheckDigit { expected: '8', .. })
        ));
        assert!(matches!(
            check("LGDCHA1G8MA12773"),
            Err(VinError::Length(_, 16))
        ));
        assert!(matches!(
            check("LGDCHA1G8MA12773O"),
            Err(VinError::Character(_, 'O'))
        ));
        assert!(matches!(
            check("lgdcha1g8ma127733"),
            Err(VinError::Character(_, 'l'))
        ));
    }
}
