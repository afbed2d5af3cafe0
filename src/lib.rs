//! smemu
