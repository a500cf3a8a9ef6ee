#!/bin/sh
# Copies the XML codec into the CareLedger tree (run once Sources/FHIRCore/TypeTable/TypeTable.swift exists).
set -e
cd "$(dirname "$0")"
cp XML/*.swift /work/main/Sources/FHIRCore/XML/
for f in XMLBenchmarkTests XMLCorpusTests XMLHostileInputTests XMLReaderTests XMLTestSupport XMLWriterTests; do
    cp Tests/$f.swift /work/main/Tests/FHIRCoreTests/
done
